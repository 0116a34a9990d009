"""Template context every page needs: the user's role, stores, the chosen store, the navigation
and the alert bell."""
from django.utils import timezone

from .models import Alert
from .navigation import menu_for
from .pages import SESSION_STORE_KEY
from .roles import ACKNOWLEDGE_ALERTS, ALL_CAPABILITIES, has_capability, role_of
from .scoping import allowed_stores


def current_stores(request, stores=None):
    """(chosen Store or None, the stores the pages cover): the switcher's store, else all of the user's
    (`stores`: the user's stores when the caller has them already)."""
    stores = list(allowed_stores(request.user)) if stores is None else stores
    code = request.session.get(SESSION_STORE_KEY) if hasattr(request, "session") else None
    chosen = next((s for s in stores if s.code == code), None)
    return chosen, ([chosen] if chosen else stores)


def navigation(request):
    user = getattr(request, "user", None)
    if not user or not user.is_authenticated:
        return {}
    stores = list(allowed_stores(user))
    chosen, covered = current_stores(request, stores)
    role = role_of(user)
    rendered_at = timezone.now().isoformat()
    context = {
        "user_role": role,
        "user_stores": stores,
        "current_store": chosen,
        "covered_stores": covered,
        "can": {cap: has_capability(user, cap) for cap in ALL_CAPABILITIES},
        "menu": menu_for(user, request.path),
    }
    if has_capability(user, ACKNOWLEDGE_ALERTS):
        from .alerts_api import unread_summary

        context["bell"] = unread_summary(user, covered)
        # The bell's own: the newest alert delivered to this user. Any later one the socket could send was not
        # delivered yet (or is not theirs), so asking for ids above it misses nothing.
        last_alert_id = context["bell"]["last_id"]
    else:
        last_alert_id = Alert.objects.order_by("-id").values_list("id", flat=True).first() or 0
    # The first catch-up after the socket opens asks for alerts newer than these (an alert id and the time
    # the page was rendered), so an alert raised or released in between is not missed.
    context["live_config"] = {
        "url": "/ws/live/" + (f"?stores={chosen.code}" if chosen else ""),
        "role": role,
        "stores": [s.code for s in covered],
        "last_alert_id": last_alert_id,
        "rendered_at": rendered_at,
    }
    return context


def shop_locale(request):
    """The shop's currency and time zone for the pages' scripts (formatting as the server does)."""
    from .shop import locale_context

    return {"shop_locale": locale_context()}
