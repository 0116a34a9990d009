"""Live updates: publish an event to the browsers of a store, after the database commit.

Events go to the Channels group of the store (or the global group for store-less events such as
training progress). `LiveConsumer` forwards them to each connected browser that may see them.
"""
import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.utils import timezone

log = logging.getLogger(__name__)

GLOBAL_GROUP = "live-global"


def store_group(store_id):
    return f"live-store-{store_id}"


def _send(group, message):
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, message)
    except Exception:  # the data is committed; a missed live push is caught up by the browser
        log.warning("live event to %s not delivered", group, exc_info=True)


def publish(event, payload, store_id=None, *, audience_roles=None):
    """Send `event` with `payload` to the store's subscribers once the current transaction commits.

    `audience_roles` limits delivery to users of those roles (None: everyone who sees the store).
    `sent_at` is stamped in the on-commit callback, right after the commit and before the channel layer,
    so receipt − sent_at in the browser is the commit-to-browser latency (not the time the transaction
    took after the change was published).
    """
    message = {
        "type": "live.event",
        "event": event,
        "store_id": store_id,
        "payload": payload,
        "audience_roles": list(audience_roles) if audience_roles else None,
    }
    group = store_group(store_id) if store_id is not None else GLOBAL_GROUP

    def send_after_commit():
        _send(group, {**message, "sent_at": timezone.now().isoformat()})

    transaction.on_commit(send_after_commit)
