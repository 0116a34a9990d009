"""The one live WebSocket (`/ws/live/`): stock changes, ticket counts, alerts, training progress.

Session-authenticated (the dashboards' login), origin-checked by the ASGI router, and scoped: a
user joins the groups of the stores they may see (optionally narrowed by `?stores=LON1,MAN1`).
The browser sends {"type": "catch_up", "since_alert_id": N, "since": "<sent_at of the last event it
saw>"} after every (re)connect to receive the alerts it missed: those with a higher id, and those
delivered after `since` (an alert held by a store's mute timing, or woken at the end of a snooze, keeps
its older id but is delivered later). On the first connect the page sends the last alert id and the
time it was rendered, so alerts released between rendering and connecting are not missed. Only alerts
still firing and not snoozed are returned: one acknowledged or snoozed meanwhile is not news.
Every event carries `sent_at` (server clock just after the commit) so the browser can measure
commit-to-browser latency.
"""
from datetime import datetime
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.utils import timezone

from . import live

UNAUTHENTICATED = 4401


class LiveConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=UNAUTHENTICATED)
            return
        wanted = parse_qs(self.scope.get("query_string", b"").decode()).get("stores", [""])[0]
        self.stores, self.role = await self._scope_for(user, wanted)
        self.groups_joined = [live.store_group(s["id"]) for s in self.stores] + [live.GLOBAL_GROUP]
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        # The layer tells a benchmark (and an operator) whether events from other processes can arrive:
        # the in-memory layer carries only what this server process publishes.
        layer = "in-memory" if self.channel_layer.__class__.__name__ == "InMemoryChannelLayer" else "redis"
        await self.send_json({"event": "hello", "payload": {"stores": [s["code"] for s in self.stores], "role": self.role,
                                                             "channel_layer": layer}})

    async def disconnect(self, code):
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        if content.get("type") == "catch_up":
            try:
                since = int(content.get("since_alert_id") or 0)
            except (TypeError, ValueError):
                since = 0
            missed = await self._alerts_since(since, self._parse_time(content.get("since")))
            await self.send_json({"event": "catch_up", "payload": {"alerts": missed}})
        elif content.get("type") == "ping":
            await self.send_json({"event": "pong", "payload": {}})

    async def live_event(self, message):
        roles = message.get("audience_roles")
        if roles and self.role not in roles and self.role != "admin":
            return
        store_id = message.get("store_id")
        code = next((s["code"] for s in self.stores if s["id"] == store_id), None)
        await self.send_json(
            {"event": message["event"], "store": code, "payload": message["payload"], "sent_at": message["sent_at"]}
        )

    @database_sync_to_async
    def _scope_for(self, user, wanted):
        from .roles import role_of
        from .scoping import allowed_stores

        stores = allowed_stores(user)
        codes = [c.strip() for c in wanted.split(",") if c.strip()]
        if codes:
            stores = stores.filter(code__in=codes)
        return [{"id": s.id, "code": s.code} for s in stores], role_of(user)

    @staticmethod
    def _parse_time(value):
        if not value:
            return None
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return None
        return moment if moment.tzinfo else None

    @database_sync_to_async
    def _alerts_since(self, since_id, since_time=None):
        from django.db.models import Q

        from .alerts import serialize_alert
        from .models import Alert

        ids = [s["id"] for s in self.stores]
        missed = Q(id__gt=since_id)
        if since_time is not None:
            missed |= Q(delivered_at__gt=since_time)
        alerts = (
            Alert.objects.filter(missed, Q(store_id__in=ids) | Q(store__isnull=True), delivered_at__isnull=False,
                                 state=Alert.State.FIRING)
            .exclude(snoozed_until__gt=timezone.now())
            .select_related("store")
            .order_by("id")[:200]
        )
        return [
            serialize_alert(a) for a in alerts
            if not a.audience_roles or self.role in a.audience_roles or self.role == "admin"
        ]
