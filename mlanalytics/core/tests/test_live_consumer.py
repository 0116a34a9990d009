"""The live WebSocket with Channels' WebsocketCommunicator: authentication through the real ASGI
application (session cookie, origin check), store scoping, audience roles, catching up on alerts after a
reconnect (including alerts released from a mute timing or woken from a snooze, and never alerts someone
dealt with meanwhile), and sent_at stamped at the commit."""
import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from mlanalytics.core import alerts
from mlanalytics.core.models import Store
from mlanalytics.routing import websocket_urlpatterns

pytestmark = pytest.mark.django_db
app = URLRouter(websocket_urlpatterns)


@pytest.fixture(autouse=True)
def _keep_the_test_transaction(monkeypatch):
    """Channels closes "old" connections around each database call; in a test that would close the
    connection holding the test's transaction (the consumer runs in this thread via async_to_sync)."""
    monkeypatch.setattr("channels.db.close_old_connections", lambda: None)


def communicator(user, query=""):
    comm = WebsocketCommunicator(app, "/ws/live/" + query)
    comm.scope["user"] = user  # what AuthMiddlewareStack puts there from the session cookie
    return comm


def always_open(code):
    store = Store.objects.get(code=code)
    store.opening_hours = {str(d): ["00:00", "24:00"] for d in range(1, 8)}
    store.save()
    return store


def fire(code, title, capture, **kwargs):
    with capture(execute=True):  # live.publish sends after commit
        alert, _ = alerts.raise_alert(kind="stockout_risk", dedup_key=f"live:{title}", title=title,
                                      store=Store.objects.get(code=code), **kwargs)
    return alert


def test_anonymous_connections_are_refused():
    async def run():
        comm = communicator(AnonymousUser())
        connected, code = await comm.connect()
        assert not connected and code == 4401
    async_to_sync(run)()


def asgi_communicator(headers):
    """A connection through the real ASGI application: origin check, session middleware, routing."""
    from mlanalytics.asgi import application

    return WebsocketCommunicator(application, "/ws/live/", headers=headers)


def session_cookie(client, user):
    from django.conf import settings

    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()


def test_a_real_session_cookie_authenticates_the_socket(client, make_user, store_codes):
    user = make_user("staff", [store_codes[0]])
    cookie = session_cookie(client, user)

    async def run():
        comm = asgi_communicator([(b"origin", b"http://localhost"), (b"host", b"localhost"), (b"cookie", cookie)])
        connected, _ = await comm.connect()
        assert connected
        hello = await comm.receive_json_from()
        assert hello["event"] == "hello" and hello["payload"]["role"] == "staff"
        assert hello["payload"]["stores"] == [store_codes[0]]
        assert hello["payload"]["channel_layer"] in ("in-memory", "redis")
        await comm.disconnect()
    async_to_sync(run)()


def test_without_a_session_cookie_the_socket_is_closed_with_4401():
    async def run():
        comm = asgi_communicator([(b"origin", b"http://localhost"), (b"host", b"localhost")])
        connected, code = await comm.connect()
        assert not connected and code == 4401
    async_to_sync(run)()


@pytest.mark.parametrize("origin", [b"https://evil.example.com", b"http://localhost.evil.example.com"])
def test_a_foreign_origin_is_refused_even_with_a_valid_session(client, make_user, origin):
    cookie = session_cookie(client, make_user("manager"))

    async def run():
        comm = asgi_communicator([(b"origin", origin), (b"host", b"localhost"), (b"cookie", cookie)])
        connected, _ = await comm.connect()
        assert not connected
    async_to_sync(run)()


def test_a_user_receives_events_of_their_stores_only(make_user, store_codes, django_capture_on_commit_callbacks):
    mine, other = store_codes[0], store_codes[1]
    for code in store_codes:
        always_open(code)
    user = make_user("staff", [mine])

    async def run():
        comm = communicator(user)
        connected, _ = await comm.connect()
        assert connected
        hello = await comm.receive_json_from()
        assert hello["payload"]["stores"] == [mine]
        await sync_to_async(fire)(other, "not yours", django_capture_on_commit_callbacks)
        await sync_to_async(fire)(mine, "yours", django_capture_on_commit_callbacks)
        message = await comm.receive_json_from(timeout=2)
        assert message["event"] == "alert" and message["payload"]["title"] == "yours" and message["store"] == mine
        assert message["sent_at"]
        assert await comm.receive_nothing(timeout=0.2)
        await comm.disconnect()
    async_to_sync(run)()


def test_alerts_go_to_their_audience_roles_only(make_user, store_codes, django_capture_on_commit_callbacks):
    always_open(store_codes[0])
    staff = make_user("staff", [store_codes[0]])

    async def run():
        comm = communicator(staff)
        await comm.connect()
        await comm.receive_json_from()
        await sync_to_async(fire)(store_codes[0], "managers only", django_capture_on_commit_callbacks, audience_roles=["manager"])
        assert await comm.receive_nothing(timeout=0.3)
        await comm.disconnect()
    async_to_sync(run)()


def test_catch_up_after_reconnect_returns_the_alerts_missed(make_user, store_codes, django_capture_on_commit_callbacks):
    code = store_codes[0]
    always_open(code)
    user = make_user("manager", [code])
    seen = fire(code, "seen before the drop", django_capture_on_commit_callbacks)

    async def run():
        comm = communicator(user)
        await comm.connect()
        await comm.receive_json_from()
        await comm.disconnect()
        missed = await sync_to_async(fire)(code, "missed while away", django_capture_on_commit_callbacks)
        other_store = await sync_to_async(fire)(store_codes[1], "other store", django_capture_on_commit_callbacks)
        comm = communicator(user)
        await comm.connect()
        await comm.receive_json_from()
        await comm.send_json_to({"type": "catch_up", "since_alert_id": seen.id})
        reply = await comm.receive_json_from(timeout=2)
        assert reply["event"] == "catch_up"
        ids = [a["id"] for a in reply["payload"]["alerts"]]
        assert missed.id in ids and seen.id not in ids and other_store.id not in ids
        await comm.disconnect()
    async_to_sync(run)()


def test_catch_up_includes_a_held_alert_released_after_the_last_event(make_user, store_codes, django_capture_on_commit_callbacks):
    from django.utils import timezone

    code = store_codes[0]
    store = Store.objects.get(code=code)
    store.opening_hours = {}
    store.save()
    user = make_user("manager", [code])
    held = fire(code, "held while closed", django_capture_on_commit_callbacks)  # older id, not delivered
    assert held.delivered_at is None
    always_open(code)
    later = fire(code, "delivered at once", django_capture_on_commit_callbacks)
    last_event_at = timezone.now().isoformat()
    with django_capture_on_commit_callbacks(execute=True):
        assert alerts.release_held_alerts() == 1

    async def run():
        comm = communicator(user)
        await comm.connect()
        await comm.receive_json_from()
        await comm.send_json_to({"type": "catch_up", "since_alert_id": later.id, "since": last_event_at})
        reply = await comm.receive_json_from(timeout=2)
        assert [a["id"] for a in reply["payload"]["alerts"]] == [held.id]
        await comm.disconnect()
    async_to_sync(run)()


def test_narrowing_to_one_store_with_the_query_string(make_user, store_codes):
    user = make_user("manager")

    async def run():
        comm = communicator(user, f"?stores={store_codes[1]}")
        await comm.connect()
        hello = await comm.receive_json_from()
        assert hello["payload"]["stores"] == [store_codes[1]]
        await comm.disconnect()
    async_to_sync(run)()


def catch_up(user, since_alert_id, since=None):
    async def run():
        comm = communicator(user)
        await comm.connect()
        await comm.receive_json_from()
        await comm.send_json_to({"type": "catch_up", "since_alert_id": since_alert_id, "since": since})
        reply = await comm.receive_json_from(timeout=2)
        await comm.disconnect()
        return [a["id"] for a in reply["payload"]["alerts"]]
    return async_to_sync(run)()


def test_catch_up_leaves_out_alerts_acknowledged_or_snoozed_meanwhile(make_user, store_codes, django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.utils import timezone

    from mlanalytics.core.alerts_api import acknowledge_alert, snooze_alert

    code = store_codes[0]
    always_open(code)
    user = make_user("manager", [code])
    before = fire(code, "before the drop", django_capture_on_commit_callbacks)
    acknowledged = fire(code, "someone is on it", django_capture_on_commit_callbacks)
    snoozed = fire(code, "quiet for an hour", django_capture_on_commit_callbacks)
    news = fire(code, "still firing", django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        acknowledge_alert(acknowledged, user)
        snooze_alert(snoozed, user, timezone.now() + timedelta(hours=1))
    assert catch_up(user, before.id) == [news.id]


def test_the_first_catch_up_gets_an_alert_released_between_rendering_and_connecting(
        as_role, store_codes, django_capture_on_commit_callbacks):
    """The page renders its last alert id and time into live-config; the first catch-up sends them."""
    import json
    import re

    code = store_codes[0]
    store = Store.objects.get(code=code)
    store.opening_hours = {}
    store.save()
    held = fire(code, "held overnight", django_capture_on_commit_callbacks)  # raised before the page is rendered
    client = as_role("manager", [code])
    html = client.get("/admin/ml-analytics/").content.decode()
    config = json.loads(re.search(r'<script id="live-config" type="application/json">(.*?)</script>', html, re.S).group(1))
    assert config["rendered_at"]
    always_open(code)
    with django_capture_on_commit_callbacks(execute=True):
        assert alerts.release_held_alerts() == 1  # the store opened before the socket did
    assert catch_up(client.user, config["last_alert_id"], config["rendered_at"]) == [held.id]


def test_a_snooze_that_ends_notifies_the_browsers_again(make_user, store_codes, django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.utils import timezone

    from mlanalytics.core.alerts_api import snooze_alert

    code = store_codes[0]
    always_open(code)
    user = make_user("staff", [code])
    alert = fire(code, "snoozed then due again", django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        snooze_alert(alert, user, timezone.now() + timedelta(minutes=30))

    def periodic_job_at(minutes):  # release_held_alerts, the minute job, as if run `minutes` from now
        with django_capture_on_commit_callbacks(execute=True):
            return alerts.release_held_alerts(now=timezone.now() + timedelta(minutes=minutes))

    async def run():
        comm = communicator(user)
        await comm.connect()
        await comm.receive_json_from()
        assert await sync_to_async(periodic_job_at)(10) == 0
        assert await comm.receive_nothing(timeout=0.2)  # still snoozed: nothing
        assert await sync_to_async(periodic_job_at)(31) == 1
        message = await comm.receive_json_from(timeout=2)
        assert message["event"] == "alert" and message["payload"]["id"] == alert.id
        assert message["payload"]["state"] == "firing" and message["payload"]["snoozed_until"] is None
        await comm.disconnect()
    async_to_sync(run)()
    alert.refresh_from_db()
    assert alert.snoozed_until is None and alert.delivered_at is not None


def test_sent_at_is_stamped_when_the_transaction_commits(make_user, store_codes):
    """The latency the browser measures (receipt − sent_at) starts at the commit, not at publish()."""
    import time

    from django.db import transaction
    from django.utils import timezone

    from mlanalytics.core import live

    code = store_codes[0]
    user = make_user("manager", [code])
    store_id = Store.objects.get(code=code).id

    async def run():
        comm = communicator(user)
        await comm.connect()
        await comm.receive_json_from()

        def slow_transaction():
            with transaction.atomic():
                live.publish("stock", {"sku": "X"}, store_id)
                time.sleep(0.3)  # work after the change was published, before the commit
                return timezone.now()

        # Inside the test's outer transaction on_commit would never run: call the callbacks as a commit does.
        callbacks = []
        from unittest import mock

        with mock.patch("django.db.transaction.on_commit", side_effect=lambda fn, *a, **k: callbacks.append(fn)):
            before_commit = await sync_to_async(slow_transaction)()
        for callback in callbacks:
            await sync_to_async(callback)()
        message = await comm.receive_json_from(timeout=2)
        from datetime import datetime

        assert datetime.fromisoformat(message["sent_at"]) >= before_commit
        await comm.disconnect()
    async_to_sync(run)()
