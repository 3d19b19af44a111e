"""ASGI app of the panel test site: HTTP through Django, websockets to two LogTailConsumers."""

import os
from pathlib import Path
from types import SimpleNamespace

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "logs.tests.panel_server.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

http = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import path  # noqa: E402

from logs.consumers import LogTailConsumer  # noqa: E402


class PanelConsumer(LogTailConsumer):
    async def authorize(self) -> bool:
        return True

    async def log_path(self) -> Path:
        return Path(os.environ["PANEL_LOG"])


class RefusingConsumer(PanelConsumer):
    async def authorize(self) -> bool:
        return False


def logged_in(app):
    """Stands in for the session middleware: every visitor is a logged-in user."""

    async def with_user(scope, receive, send):
        return await app({**scope, "user": SimpleNamespace(is_authenticated=True, username="alice")}, receive, send)

    return with_user


application = ProtocolTypeRouter(
    {
        "http": http,
        "websocket": AllowedHostsOriginValidator(
            logged_in(URLRouter([path("ws/log/", PanelConsumer.as_asgi()), path("ws/refused/", RefusingConsumer.as_asgi())]))
        ),
    }
)
