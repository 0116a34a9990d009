"""The live WebSocket with Channels' WebsocketCommunicator: authentication, store scoping, audience
roles and catching up on alerts after a reconnect (including alerts released from a mute timing)."""
import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.auth import AuthMiddlewareStack
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
    store.opening_hours = {str(d): ["00:00", "23:59"] for d in range(1, 8)}
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


def test_the_session_is_what_authenticates():
    assert AuthMiddlewareStack  # the ASGI router wraps the route in it (mlanalytics/asgi.py)


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
