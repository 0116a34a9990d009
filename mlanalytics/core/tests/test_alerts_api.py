"""Alerts over REST and in the inbox: store scoping, audience roles, the lifecycle actions guarded by
role, snooze validation in words, the audit trail and the held-alert release job."""
from datetime import timedelta

import pytest
from django.utils import timezone

from mlanalytics.core import alerts, jobs
from mlanalytics.core.models import Alert, AuditLogEntry, Store

pytestmark = pytest.mark.django_db


def fire(store_code, title, **kwargs):
    store = Store.objects.get(code=store_code)
    store.opening_hours = {str(d): ["00:00", "24:00"] for d in range(1, 8)}
    store.save()
    alert, _ = alerts.raise_alert(kind=kwargs.pop("kind", "stockout_risk"), dedup_key=f"t:{title}", title=title, store=store, **kwargs)
    return alert


def test_list_shows_only_alerts_of_the_users_stores_and_role(api_for, store_codes):
    mine = fire(store_codes[0], "mine")
    fire(store_codes[1], "other store")
    fire(store_codes[0], "managers only", audience_roles=["manager"])
    api = api_for("staff", stores=[store_codes[0]])
    titles = {a["title"] for a in api.get("/api/core/alerts/").json()["results"]}
    assert titles == {"mine"}
    assert api.get(f"/api/core/alerts/{mine.id}/").json()["history"][0]["what"] == "fired"


def test_filters_by_state_kind_and_store(api_for, store_codes):
    a = fire(store_codes[0], "a", kind="sla_risk")
    b = fire(store_codes[1], "b")
    alerts.acknowledge(b, None)
    api = api_for("manager")
    ids = lambda **q: {x["id"] for x in api.get("/api/core/alerts/", q).json()["results"]}  # noqa: E731
    assert a.id in ids(kind="sla_risk") and b.id not in ids(kind="sla_risk")
    assert ids(state="acknowledged") >= {b.id} and a.id not in ids(state="acknowledged")
    assert b.id not in ids(store=store_codes[0])
    assert api.get("/api/core/alerts/", {"state": "sleeping"}).status_code == 400


def test_a_store_outside_scope_is_403_and_unknown_is_404(api_for, store_codes):
    api = api_for("staff", stores=[store_codes[0]])
    assert api.get("/api/core/alerts/", {"store": store_codes[1]}).status_code == 403
    assert api.get("/api/core/alerts/", {"store": "ZZZ9"}).status_code == 404


def test_acknowledge_snooze_resolve_and_their_audit_trail(api_for, store_codes):
    alert = fire(store_codes[0], "lifecycle")
    api = api_for("staff", stores=[store_codes[0]])
    assert api.post(f"/api/core/alerts/{alert.id}/acknowledge/").json()["state"] == "acknowledged"
    until = api.post(f"/api/core/alerts/{alert.id}/snooze/", {"minutes": 60}, format="json").json()["snoozed_until"]
    assert abs((timezone.datetime.fromisoformat(until) - timezone.now()) - timedelta(minutes=60)) < timedelta(seconds=30)
    assert api.post(f"/api/core/alerts/{alert.id}/resolve/").json()["state"] == "resolved"
    actions = list(AuditLogEntry.objects.filter(object_type="core.alert", object_id=str(alert.id)).values_list("action", flat=True))
    assert actions == ["alert.resolve", "alert.snooze", "alert.acknowledge"]  # newest first
    assert AuditLogEntry.objects.filter(object_id=str(alert.id), user=api.user).count() == 3


def test_snooze_needs_a_sensible_duration(api_for, store_codes):
    alert = fire(store_codes[0], "snooze me")
    api = api_for("manager")
    response = api.post(f"/api/core/alerts/{alert.id}/snooze/", {"minutes": 1}, format="json")
    assert response.status_code == 400 and "minutes" in response.json()
    response = api.post(f"/api/core/alerts/{alert.id}/snooze/", {}, format="json")
    assert "Give minutes" in str(response.json())


def test_stakeholders_cannot_act_on_alerts(api_for, store_codes):
    alert = fire(store_codes[0], "not for stakeholders")
    api = api_for("stakeholder")
    assert api.get("/api/core/alerts/").status_code == 403
    assert api.post(f"/api/core/alerts/{alert.id}/acknowledge/").status_code == 403


def test_the_bell_counts_firing_delivered_unsnoozed_alerts(api_for, store_codes):
    api = api_for("manager")
    before = api.get("/api/core/alerts/summary/").json()["unread"]
    one = fire(store_codes[0], "bell one")
    two = fire(store_codes[0], "bell two")
    assert api.get("/api/core/alerts/summary/").json()["unread"] == before + 2
    alerts.snooze(one, None, timezone.now() + timedelta(hours=1))
    alerts.acknowledge(two, None)
    assert api.get("/api/core/alerts/summary/").json()["unread"] == before


def test_inbox_buttons_change_the_alert(client, make_user, store_codes):
    alert = fire(store_codes[0], "inbox")
    client.force_login(make_user("staff", [store_codes[0]]))
    page = client.get("/admin/ml-analytics/alerts/")
    assert "inbox" in page.content.decode() and "Acknowledge" in page.content.decode()
    client.post(f"/admin/ml-analytics/alerts/{alert.id}/acknowledge/")
    alert.refresh_from_db()
    assert alert.state == Alert.State.ACKNOWLEDGED
    client.post(f"/admin/ml-analytics/alerts/{alert.id}/snooze/", {"minutes": "240"})
    alert.refresh_from_db()
    assert alert.snoozed_until > timezone.now() + timedelta(minutes=235)
    client.post(f"/admin/ml-analytics/alerts/{alert.id}/resolve/")
    alert.refresh_from_db()
    assert alert.state == Alert.State.RESOLVED
    history = client.get("/admin/ml-analytics/alerts/", {"state": "resolved"}).content.decode()
    assert "resolve by" in history


def test_held_alerts_are_released_by_a_registered_periodic_job(store_codes):
    assert jobs._periodic["release_held_alerts"] == (60, "mlanalytics.core.alerts.release_held_alerts")
    store = Store.objects.get(code=store_codes[0])
    store.opening_hours = {}
    store.save()
    alert, _ = alerts.raise_alert(kind="sla_risk", dedup_key="held", title="held", store=store)
    assert alert.delivered_at is None
    assert alerts.release_held_alerts() == 0
    store.opening_hours = {str(d): ["00:00", "24:00"] for d in range(1, 8)}
    store.save()
    jobs.call(jobs._periodic["release_held_alerts"][1])
    alert.refresh_from_db()
    assert alert.delivered_at is not None


def test_a_refreshed_alert_takes_the_latest_title_severity_and_detail(api_for, store_codes):
    """The periodic stock check raises the same projected stockout again with new figures: the open alert's
    words follow them, so the inbox and the bell never say a date that is no longer true."""
    store = Store.objects.get(code=store_codes[0])
    first, created = alerts.raise_alert(kind="stockout_risk", dedup_key="stockout:SKU-1:LON", store=store,
                                        title="SKU-1 at LON1 is projected to run out on 12 Dec 2026",
                                        message="3 on hand, lead time 5 days", severity=Alert.Severity.WARNING)
    again, created_again = alerts.raise_alert(kind="stockout_risk", dedup_key="stockout:SKU-1:LON", store=store,
                                              title="SKU-1 at LON1 is projected to run out on 3 Dec 2026",
                                              message="1 on hand, lead time 5 days", severity=Alert.Severity.CRITICAL)
    assert created and not created_again and again.id == first.id
    shown = api_for("manager").get(f"/api/core/alerts/{first.id}/").json()
    assert shown["title"] == "SKU-1 at LON1 is projected to run out on 3 Dec 2026"
    assert shown["severity"] == "critical" and shown["message"] == "1 on hand, lead time 5 days"
    assert Alert.objects.filter(dedup_key="stockout:SKU-1:LON").count() == 1


def test_the_bell_shows_when_an_alert_fired_in_shop_time(client, make_user, store_codes):
    from datetime import datetime, timezone as dt_timezone

    store = Store.objects.get(code=store_codes[0])
    store.opening_hours = {str(d): ["00:00", "24:00"] for d in range(1, 8)}
    store.save()
    fired = datetime(2030, 7, 1, 11, 14, tzinfo=dt_timezone.utc)  # 12:14 in London (BST)
    alerts.raise_alert(kind="stockout_risk", dedup_key="t:bell-time", title="Bell time", store=store, now=fired)
    client.force_login(make_user("manager"))
    html = client.get("/admin/ml-analytics/").content.decode()
    bell = html[html.index("data-bell-list"):html.index("</ul>", html.index("data-bell-list"))]
    assert "Bell time" in bell and "01 Jul 2030 12:14" in bell


def test_home_says_how_many_open_alerts_are_held_until_the_store_opens(as_role, store_codes):
    """An alert raised while the store is closed is open but not yet in the bell: the home tile says so,
    so its count and the bell's never disagree without a reason."""
    client = as_role("manager", stores=[store_codes[0]])
    before = client.get("/api/core/home/", {"store": store_codes[0]}).json()["alerts"]
    fire(store_codes[0], "delivered now")
    closed = Store.objects.get(code=store_codes[0])
    closed.opening_hours = {}
    closed.save()
    alerts.raise_alert(kind="sla_risk", dedup_key="t:held at night", title="held at night", store=closed)
    after = client.get("/api/core/home/", {"store": store_codes[0]}).json()["alerts"]
    assert after["open"] == before["open"] + 2
    assert after["held"] == before["held"] + 1
    assert after["summary"] == f"{after['firing']} not yet acknowledged, {after['held']} held until the store opens"


def test_opening_hours_hold_to_the_minute_and_24_00_means_midnight(store_codes):
    """Mute timings read the store's hours in its own time zone: closed from the closing minute on, and a
    store open all day (["00:00", "24:00"]) is open in the last minute before midnight too."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    london = ZoneInfo("Europe/London")
    store = Store.objects.get(code=store_codes[0])
    store.opening_hours = {str(d): ["09:00", "18:00"] for d in range(1, 7)}  # closed on Sundays
    assert alerts.store_is_open(store, datetime(2026, 11, 27, 17, 59, 59, tzinfo=london))  # a Friday
    assert not alerts.store_is_open(store, datetime(2026, 11, 27, 18, 0, 0, tzinfo=london))
    # Held on Saturday evening, delivered when the store opens on Monday at nine.
    assert alerts.next_opening(store, datetime(2026, 11, 28, 19, 0, tzinfo=london)) == datetime(2026, 11, 30, 9, 0, tzinfo=london)
    store.opening_hours = {str(d): ["00:00", "24:00"] for d in range(1, 8)}
    assert alerts.store_is_open(store, datetime(2026, 11, 29, 23, 59, 30, tzinfo=london))
    assert alerts.next_opening(store, datetime(2026, 11, 29, 23, 59, 30, tzinfo=london)) == datetime(2026, 11, 29, 23, 59, 30, tzinfo=london)
