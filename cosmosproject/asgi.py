"""ASGI entry point: HTTP through Django, websockets through Channels' URL router."""

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
