"""The app as served to the browser tests, plus one test-only hook.

The browser-test server runs on the embedded in-memory channel layer, so a live event only reaches
browsers when it is published inside the server process. `POST /__test__/<action>` (allowed only
with the token the test run passes in BROWSER_TEST_TOKEN) runs a service call in this process —
raise an alert, change stock, create a ticket — exactly as a request or job would. This module is
never part of the product: only tests/browser/conftest.py starts a server with it.
"""
import json
import os

from asgiref.sync import sync_to_async

from mlanalytics.asgi import application as app

TOKEN = os.environ.get("BROWSER_TEST_TOKEN", "")


def _raise_alert(store="LON1", title="Test alert", kind="stockout_risk", severity="warning", key=None, audience=("manager", "staff")):
    from mlanalytics.core import alerts
    from mlanalytics.core.models import Store

    alert, created = alerts.raise_alert(kind=kind, dedup_key=key or f"test:{title}", title=title, severity=severity,
                                        store=Store.objects.get(code=store), audience_roles=list(audience))
    return {"id": alert.id, "created": created, "delivered": alert.delivered_at is not None}


def _adjust_stock(store="LON1", sku=None, delta=10):
    from inventory.models import Stock
    from inventory.services import adjust_stock

    stock = Stock.objects.select_related("part", "store").filter(store__code=store)
    stock = stock.get(part__sku=sku) if sku else stock.order_by("part__sku").first()
    adjust_stock(stock.part, stock.store, stock.on_hand + int(delta), user=None, reason="browser test")
    return {"sku": stock.part.sku, "unit_cost": float(stock.part.unit_cost), "on_hand": stock.on_hand + int(delta)}


def _stock_burst(store="LON1", count=100, gap_ms=30):
    import time

    for i in range(int(count)):
        _adjust_stock(store=store, delta=1 if i % 2 == 0 else -1)
        time.sleep(int(gap_ms) / 1000)
    return {"sent": int(count)}


def _set_hours(store="LON1", hours=None):
    from mlanalytics.core.models import Store

    week = {str(d): hours for d in range(1, 8)} if hours else {}
    Store.objects.filter(code=store).update(opening_hours=week)
    return {"store": store, "hours": hours}


def _release():
    from mlanalytics.core.alerts import release_held_alerts

    return {"released": release_held_alerts()}


def _new_ticket(store="LON1"):
    from mlanalytics.core.simulation import ActivitySimulator

    return {"what": ActivitySimulator(store_codes=[store], seed=1).new_ticket()}


ACTIONS = {"raise_alert": _raise_alert, "adjust_stock": _adjust_stock, "stock_burst": _stock_burst,
           "set_hours": _set_hours, "release_held_alerts": _release, "new_ticket": _new_ticket}


def _run(action, kwargs):
    from django.db import close_old_connections

    try:
        return action(**kwargs)
    finally:
        close_old_connections()


async def _read_body(receive):
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


async def _respond(send, status, data):
    payload = json.dumps(data).encode()
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": payload})


async def application(scope, receive, send):
    if scope["type"] == "http" and scope["path"].startswith("/__test__/"):
        headers = dict(scope.get("headers") or [])
        if not TOKEN or headers.get(b"x-test-token", b"").decode() != TOKEN or scope["method"] != "POST":
            return await _respond(send, 403, {"detail": "forbidden"})
        action = ACTIONS.get(scope["path"].rsplit("/", 1)[-1])
        if action is None:
            return await _respond(send, 404, {"detail": "unknown action"})
        kwargs = json.loads((await _read_body(receive)) or b"{}")
        result = await sync_to_async(_run, thread_sensitive=False)(action, kwargs)
        return await _respond(send, 200, result)
    return await app(scope, receive, send)
