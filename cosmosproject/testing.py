"""Helpers for tests that start the app's own processes (web server, worker) on the test database."""

from __future__ import annotations

import socket

from django.conf import settings


def database_url() -> str:
    """DATABASE_URL of the test database, for a child process to use the same one."""
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
