"""What every page asks the database about alerts: the home tile's counts in one query, and the live
catch-up's starting point taken from the bell instead of a query of its own."""
import pytest
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from mlanalytics.core import alerts
from mlanalytics.core.models import Alert, Store

pytestmark = pytest.mark.django_db


def alert_queries(captured):
    return [q["sql"] for q in captured.captured_queries if '"core_alert"' in q["sql"]]


def raise_one(key, store, *, severity="warning", audience=("manager", "staff"), delivered=True, state=None):
    alert, _ = alerts.raise_alert(kind="stockout_risk", dedup_key=f"t:{key}", title=key, store=store, severity=severity,
                                  audience_roles=audience)
    Alert.objects.filter(pk=alert.pk).update(delivered_at=timezone.now() if delivered else None, state=state or Alert.State.FIRING)
    return alert


def test_open_alert_counts_count_each_state_for_the_users_role_in_one_query(make_user, store_codes):
    from mlanalytics.core.selectors import open_alert_counts

    mine, other = (Store.objects.get(code=c) for c in store_codes[:2])
    manager = make_user("manager", stores=[mine.code])
    # Counted for the manager of `mine`:
    raise_one("critical, firing", mine, severity="critical", audience=())
    raise_one("held overnight", mine, delivered=False)
    raise_one("acknowledged", mine, state=Alert.State.ACKNOWLEDGED)
    raise_one("every store", None, audience=("manager",))
    # Not counted: resolved, addressed to staff only, another store.
    raise_one("resolved", mine, severity="critical", state=Alert.State.RESOLVED)
    raise_one("for staff", mine, audience=("staff",))
    raise_one("elsewhere", other, severity="critical")
    with CaptureQueriesContext(connection) as captured:
        counts = open_alert_counts(manager, [mine])
    assert len(alert_queries(captured)) == 1
    assert counts == {"open": 4, "firing": 3, "held": 1, "critical": 1,
                      "summary": "3 not yet acknowledged, 1 held until the store opens"}
    admin = make_user("admin", stores=[mine.code])
    assert open_alert_counts(admin, [mine])["open"] == 5  # admins see alerts addressed to any role


def test_a_page_asks_for_alerts_only_through_the_bell(make_user, store_codes):
    from mlanalytics.core.alerts_api import unread_summary
    from mlanalytics.core.context_processors import navigation

    store = Store.objects.get(code=store_codes[0])
    store.opening_hours = {str(d): ["00:00", "24:00"] for d in range(1, 8)}
    store.save()
    delivered = raise_one("delivered", store)
    raise_one("held", store, delivered=False)  # newer, not delivered yet: the catch-up will send it once it is
    manager = make_user("manager", stores=[store.code])
    request = RequestFactory().get("/admin/ml-analytics/")
    request.user, request.session = manager, {}
    with CaptureQueriesContext(connection) as page:
        context = navigation(request)
    with CaptureQueriesContext(connection) as bell:
        unread_summary(manager, [store])
    assert len(alert_queries(page)) == len(alert_queries(bell))
    assert context["live_config"]["last_alert_id"] == context["bell"]["last_id"] == delivered.id
    assert context["live_config"]["rendered_at"] <= timezone.now().isoformat()
    # A role without the bell still gets a starting point for its catch-up.
    stakeholder = make_user("stakeholder", stores=[store.code])
    request.user = stakeholder
    assert navigation(request)["live_config"]["last_alert_id"] == Alert.objects.order_by("-id").first().id
