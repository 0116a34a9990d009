"""The four roles of the product and what each may do (SPEC §6).

A role is a Django group holding one permission per capability; `ensure_roles()` keeps the groups
in step with ROLE_CAPABILITIES after every migrate, so the matrix below is the single source.
"""
from django.contrib.auth.models import Group, Permission

ADMIN, MANAGER, STAFF, STAKEHOLDER = "admin", "manager", "staff", "stakeholder"
ROLES = (ADMIN, MANAGER, STAFF, STAKEHOLDER)

VIEW_PREDICTIVE = "view_predictive"
VIEW_INVENTORY = "view_inventory"
VIEW_WORKFLOW = "view_workflow"
MANAGE_PURCHASING = "manage_purchasing"
APPLY_ALLOCATION = "apply_allocation"
MANAGE_RULES = "manage_rules"
SEND_MESSAGES = "send_messages"
RECORD_QA = "record_qa"
ACKNOWLEDGE_ALERTS = "acknowledge_alerts"
DOWNLOAD_REPORTS = "download_reports"
SUBSCRIBE_REPORTS = "subscribe_reports"
TRAIN_MODELS = "train_models"
IMPORT_DATA = "import_data"

ALL_CAPABILITIES = (
    VIEW_PREDICTIVE, VIEW_INVENTORY, VIEW_WORKFLOW, MANAGE_PURCHASING, APPLY_ALLOCATION,
    MANAGE_RULES, SEND_MESSAGES, RECORD_QA, ACKNOWLEDGE_ALERTS, DOWNLOAD_REPORTS,
    SUBSCRIBE_REPORTS, TRAIN_MODELS, IMPORT_DATA,
)

ROLE_CAPABILITIES = {
    ADMIN: set(ALL_CAPABILITIES),
    MANAGER: set(ALL_CAPABILITIES) - {IMPORT_DATA},
    STAFF: {VIEW_INVENTORY, VIEW_WORKFLOW, SEND_MESSAGES, RECORD_QA, ACKNOWLEDGE_ALERTS},
    STAKEHOLDER: {VIEW_PREDICTIVE, VIEW_INVENTORY, VIEW_WORKFLOW, DOWNLOAD_REPORTS, SUBSCRIBE_REPORTS},
}


def ensure_roles(**_):
    """Create the role groups and give each exactly the permissions of its capabilities."""
    perms = {p.codename: p for p in Permission.objects.filter(content_type__app_label="core", codename__in=ALL_CAPABILITIES)}
    if len(perms) < len(ALL_CAPABILITIES):
        return  # permissions not created yet (first migrate runs post_migrate again after)
    for role, capabilities in ROLE_CAPABILITIES.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.set([perms[c] for c in capabilities])


def ensure_roles_after_migrate(sender, **kwargs):
    ensure_roles()


def role_of(user):
    """The user's role name, or None. Superusers count as admins."""
    if not user or not user.is_authenticated:
        return None
    if user.is_superuser:
        return ADMIN
    names = {g.name for g in user.groups.all()}
    for role in ROLES:
        if role in names:
            return role
    return None


def has_capability(user, capability):
    return bool(user and user.is_authenticated and user.has_perm(f"core.{capability}"))


def assign_role(user, role):
    """Put the user in exactly one role group."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    ensure_roles()
    user.groups.remove(*Group.objects.filter(name__in=ROLES))
    user.groups.add(Group.objects.get(name=role))
