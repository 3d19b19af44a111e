"""Turn a DATABASE_URL into a Django DATABASES entry (sqlite:/// and postgres:// only)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

# SQLite as a multi-process store: WAL lets readers and one writer overlap, IMMEDIATE makes a
# transaction take the write lock up front (no deadlock-prone lock upgrades), and the timeout
# makes a writer wait for the lock instead of failing with "database is locked".
SQLITE_OPTIONS = {
    "timeout": 30,
    "transaction_mode": "IMMEDIATE",
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;",
}


def sqlite_database(path: Path) -> dict:
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path),
        "OPTIONS": dict(SQLITE_OPTIONS),
        # Kept open: opening one (pragmas, functions) cost a web request 2 ms of its ~3 ms floor.
        # The web server's threads are a fixed pool (cosmosproject.http_handler), so are these.
        "CONN_MAX_AGE": None,
        # A file, not Django's default in-memory test database: tests start real worker processes
        # (qcluster, daphne) that must see the same data.
        "TEST": {"NAME": str(path.with_name("test_" + path.name))},
    }


def parse_database_url(url: str) -> dict:
    """Return a DATABASES['default'] dict for `url`; raise ValueError for an unknown scheme."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        # sqlite:////abs/path.db or sqlite:///relative.db
        path = unquote(parts.path[1:] if parts.path.startswith("//") else parts.path.lstrip("/"))
        if parts.path.startswith("//"):
            path = "/" + path.lstrip("/")
        return sqlite_database(Path(path))
    if scheme in {"postgres", "postgresql", "pgsql"}:
        options = dict(parse_qsl(parts.query))
        return {
            # Django's backend without two per-request costs (health check, timestamps): its docstring.
            "ENGINE": "cosmosproject.postgresql",
            "NAME": unquote(parts.path.lstrip("/")) or "postgres",
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": options,
        }
    raise ValueError(f"DATABASE_URL scheme {scheme!r} is not supported (use sqlite:/// or postgres://)")
