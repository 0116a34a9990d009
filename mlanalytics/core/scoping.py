"""Per-store scoping: the one helper every endpoint and page uses to limit data to a user's stores.

Unknown store -> NotFound (404); a store that exists but is not the user's -> PermissionDenied (403).
"""
from rest_framework.exceptions import NotFound, PermissionDenied

from .models import Store
from .roles import ADMIN, role_of


def sees_all_stores(user):
    return bool(user and user.is_authenticated and (user.all_stores or user.is_superuser or role_of(user) == ADMIN))


def allowed_stores(user):
    """Stores the user may see, as a queryset."""
    if not user or not user.is_authenticated:
        return Store.objects.none()
    if sees_all_stores(user):
        return Store.objects.filter(is_active=True)
    return user.stores.filter(is_active=True)


def allowed_store_ids(user):
    return list(allowed_stores(user).values_list("id", flat=True))


def resolve_store(user, store):
    """Turn a store code or id from a request into a Store the user may see.

    Raises NotFound for a store that does not exist, PermissionDenied for one outside the user's scope.
    """
    if isinstance(store, Store):
        found = store
    else:
        text = str(store).strip()
        found = Store.objects.filter(code__iexact=text).first()
        if found is None and text.isascii() and text.isdigit() and len(text) < 10:
            found = Store.objects.filter(pk=int(text)).first()
        if found is None:
            raise NotFound(f"Unknown store '{text}'.")
    if not allowed_stores(user).filter(pk=found.pk).exists():
        raise PermissionDenied(f"You do not have access to store {found.code}.")
    return found


def resolve_stores(user, store=None):
    """A list of stores for a request: the one asked for, or every store the user may see."""
    if store not in (None, ""):
        return [resolve_store(user, store)]
    return list(allowed_stores(user))


def scope_queryset(queryset, user, field="store"):
    """Filter any queryset with a store foreign key (or a path to one) to the user's stores."""
    if sees_all_stores(user):
        return queryset
    return queryset.filter(**{f"{field}__in": allowed_stores(user)})
