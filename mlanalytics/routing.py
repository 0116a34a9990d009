"""WebSocket routes. One live endpoint carries every kind of update, filtered per user's stores."""
from django.urls import path

from mlanalytics.core.consumers import LiveConsumer

websocket_urlpatterns = [
    path("ws/live/", LiveConsumer.as_asgi()),
]
