"""Live stock events and projected-stockout alerts: published after commit, de-duplicated, resolved by
themselves, and delivered to a subscribed browser over the one live WebSocket."""
import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import transaction
from django.utils import timezone

from inventory.models import Part, PurchaseOrderLine, StockPolicy
from inventory.services import adjust_stock, stockout_alert_key
from mlanalytics.core.consumers import LiveConsumer
from mlanalytics.core.models import Alert, Store, User

BASE = "/api/inventory-management/"


def _fast_mover_without_deliveries(stores):
    """A part that sells more than one unit per lead time at a store with nothing on order."""
    on_order = set(PurchaseOrderLine.objects.filter(po__status__in=["ordered", "partial"]).values_list("po__store_id", "part_id"))
    for policy in StockPolicy.objects.filter(store__in=stores).select_related("part", "store").order_by("-daily_mean"):
        if (policy.store_id, policy.part_id) not in on_order and policy.daily_mean * policy.lead_time_days > 1.5:
            return policy
    pytest.skip("no fast mover without deliveries in this data set")


def test_stock_event_agrees_with_the_stock_monitor(stores, api_for, monkeypatch, django_capture_on_commit_callbacks):
    sent = []
    monkeypatch.setattr("mlanalytics.core.live._send", lambda group, message: sent.append((group, message)))
    policy = StockPolicy.objects.filter(store=stores[0], daily_mean__gt=0).select_related("part", "store").first()
    with django_capture_on_commit_callbacks(execute=True):
        adjust_stock(policy.part, policy.store, 7, user=None, reason="test: count")
    group, message = next((g, m) for g, m in sent if m["event"] == "stock")
    assert group == f"live-store-{policy.store_id}"
    payload = message["payload"]
    row = api_for("manager").get(BASE + "stock-monitoring", {"store": policy.store.code, "sku": policy.part.sku}).json()["results"][0]
    assert payload["on_hand"] == row["on_hand"] == 7 and payload["movement"] == "adjustment"
    for key in ("status", "reorder_point", "max_level", "on_order", "projected_stockout_date"):
        assert payload[key] == row[key], key
    assert payload["days_of_cover"] == pytest.approx(row["days_of_cover"], abs=0.05)


def test_projected_stockout_raises_one_alert_per_part_and_store_and_resolves_itself(stores, django_capture_on_commit_callbacks):
    policy = _fast_mover_without_deliveries(stores)
    key = stockout_alert_key(policy.store_id, policy.part_id)
    with django_capture_on_commit_callbacks(execute=True):
        adjust_stock(policy.part, policy.store, 1, user=None, reason="test: count")  # lasts < lead time
    alert = Alert.objects.get(dedup_key=key)
    assert alert.kind == Alert.Kind.STOCKOUT_RISK and alert.state == Alert.State.FIRING
    assert alert.severity == Alert.Severity.WARNING and alert.subject_id == str(policy.part_id)
    assert alert.data["projected_stockout_date"] and alert.data["sku"] == policy.part.sku

    with django_capture_on_commit_callbacks(execute=True):
        adjust_stock(policy.part, policy.store, 0, user=None, reason="test: count")  # now out
    open_alerts = Alert.objects.filter(dedup_key=key).exclude(state=Alert.State.RESOLVED)
    assert open_alerts.count() == 1 and open_alerts.get().pk == alert.pk
    assert open_alerts.get().severity == Alert.Severity.CRITICAL

    plenty = int(policy.daily_mean * (policy.lead_time_days + 30)) + 1
    with django_capture_on_commit_callbacks(execute=True):
        adjust_stock(policy.part, policy.store, plenty, user=None, reason="test: delivery counted")
    alert.refresh_from_db()
    assert alert.state == Alert.State.RESOLVED and alert.resolved_at is not None
    assert not Alert.objects.filter(dedup_key=key).exclude(state=Alert.State.RESOLVED).exists()


def test_no_alert_when_the_stock_change_is_rolled_back(stores, django_capture_on_commit_callbacks):
    policy = _fast_mover_without_deliveries(stores)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        adjust_stock(policy.part, policy.store, 0, user=None, reason="test: count")
        raise RuntimeError("abandon the count")
    assert not Alert.objects.filter(dedup_key=stockout_alert_key(policy.store_id, policy.part_id)).exists()


def test_overview_lists_the_open_stockout_alerts(stores, api_for, django_capture_on_commit_callbacks):
    policy = _fast_mover_without_deliveries(stores)
    with django_capture_on_commit_callbacks(execute=True):
        adjust_stock(policy.part, policy.store, 0, user=None, reason="test: count")
    body = api_for("manager").get(BASE + "overview").json()
    assert body["open_stockout_alerts"] >= 1
    assert any(a["subject_id"] == str(policy.part_id) and a["store"] == policy.store.code for a in body["top_alerts"])


@pytest.mark.django_db(transaction=True)
def test_a_stock_change_reaches_a_subscribed_browser():
    """End to end with committed data: a WebsocketCommunicator subscribed to its store receives the
    stock event that the service publishes after its transaction commits."""
    store = Store.objects.create(code="LIVE1", name="Live test branch",
                                 opening_hours={str(d): ["00:00", "24:00"] for d in range(1, 8)})
    part = Part.objects.create(sku="LIVE-TEST-1", name="Live test screen", category="screen", unit_cost=10, price=20)
    StockPolicy.objects.create(store=store, part=part, computed_at=timezone.now(), service_level=0.95, policy_method="poisson",
                               daily_mean=0.1, daily_sd=0.3, reorder_point=2, order_qty=8, max_level=10, lead_time_days=3)
    viewer = User.objects.create_user("live-viewer", password="viewer-pass-123", all_stores=True)

    async def run():
        comm = WebsocketCommunicator(LiveConsumer.as_asgi(), "/ws/live/?stores=LIVE1")
        comm.scope["user"] = viewer  # what AuthMiddlewareStack puts there from the session cookie
        connected, _ = await comm.connect()
        assert connected
        hello = await comm.receive_json_from(timeout=5)
        assert hello["payload"]["stores"] == ["LIVE1"]
        await database_sync_to_async(adjust_stock)(part, store, 5, user=viewer, reason="stock count")
        message = await comm.receive_json_from(timeout=5)
        assert message["event"] == "stock" and message["store"] == "LIVE1"
        payload = message["payload"]
        assert payload["sku"] == "LIVE-TEST-1" and payload["on_hand"] == 5 and payload["movement"] == "adjustment"
        assert payload["status"] == "ok" and payload["days_of_cover"] == 50.0 and payload["reorder_point"] == 2
        assert payload["projected_stockout_date"] == (timezone.localdate() + timezone.timedelta(days=50)).isoformat()
        await comm.disconnect()

    async_to_sync(run)()
    # Five units lasting 50 days is no stockout risk: nothing was raised.
    assert not Alert.objects.filter(dedup_key=stockout_alert_key(store.pk, part.pk)).exists()
