"""ASGI entry point: HTTP through Django, WebSockets through Channels (session auth, origin check)."""
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlanalytics.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs Django set up first)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from mlanalytics.core.metrics import WebSocketGauge  # noqa: E402
from mlanalytics.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # WebSocketGauge counts open sockets for the metrics endpoint; it changes nothing else.
        "websocket": WebSocketGauge(AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))),
    }
)

from mlanalytics.core import jobs  # noqa: E402

jobs.start_embedded_scheduler()
