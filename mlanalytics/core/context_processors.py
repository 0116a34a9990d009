"""Template context every page needs: the user's role, stores and the selected store."""
from .roles import has_capability, role_of
from .scoping import allowed_stores


def navigation(request):
    user = getattr(request, "user", None)
    if not user or not user.is_authenticated:
        return {}
    stores = list(allowed_stores(user))
    return {
        "user_role": role_of(user),
        "user_stores": stores,
        "can": {cap: has_capability(user, cap) for cap in (
            "view_predictive", "view_inventory", "view_workflow", "manage_purchasing", "apply_allocation",
            "manage_rules", "send_messages", "record_qa", "acknowledge_alerts", "download_reports",
            "subscribe_reports", "train_models", "import_data",
        )},
    }
