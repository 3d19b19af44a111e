"""Settings, driven by the environment with defaults that run on a laptop.

Every setting a user may want to change is read from an environment variable named in the
README's table. Data (database, inputs, outputs, logs) lives under COSMOS_DATA_DIR.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

from cosmosproject.dburl import parse_database_url, sqlite_database

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def _default_data_dir() -> Path:
    # pytest sets PYTEST_VERSION before Django reads settings: a test run must never touch ./var.
    if os.environ.get("PYTEST_VERSION"):
        return Path(tempfile.mkdtemp(prefix="cosmos-test-"))
    return BASE_DIR / "var"


DATA_DIR = Path(os.environ.get("COSMOS_DATA_DIR") or _default_data_dir()).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)
INPUTS_DIR = DATA_DIR / "inputs"
OUTPUTS_DIR = DATA_DIR / "outputs"
LOGS_DIR = DATA_DIR / "logs"


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one generated once and kept in the data dir."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        # O_EXCL: two processes starting together must not write two different keys.
        try:
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(50))
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "channels",
    "django_q",
    "django_htmx",
    "ninja",
    "accounts",
    "prompts",
    "gpu",
    "logs",
    "runs",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "accounts.middleware.LoginRequiredMiddleware",
]

ROOT_URLCONF = "cosmosproject.urls"
ASGI_APPLICATION = "cosmosproject.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "cosmosproject.context_processors.nav_section",
            ],
        },
    },
]

if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": parse_database_url(os.environ["DATABASE_URL"])}
else:
    DATABASES = {"default": sqlite_database(DATA_DIR / "cosmos.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Serve static files straight from the app folders (no collectstatic step for `make run`).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# Uploads: spool to disk past 2.5 MB; the hard caps below say when a request is refused.
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
COSMOS_MAX_UPLOAD_BYTES = int(os.environ.get("COSMOS_MAX_UPLOAD_BYTES", 2 * 1024**3))

# Channels: one process works with the in-memory layer; with REDIS_URL every process shares one.
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [REDIS_URL]}}
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# django-q2 with the database as broker. Runs never rely on one task staying alive (they are
# claimed with conditional UPDATEs and kept alive by a heartbeat), so `retry` only decides when a
# task whose worker vanished is handed out again; it must exceed `timeout`.
Q_CLUSTER = {
    "name": "cosmos",
    "orm": "default",
    "workers": int(os.environ.get("COSMOS_Q_WORKERS", 4)),
    "timeout": int(os.environ.get("COSMOS_TASK_TIMEOUT", 6 * 3600)),
    "retry": int(os.environ.get("COSMOS_TASK_TIMEOUT", 6 * 3600)) + 600,
    "max_attempts": 1,
    "catch_up": False,
    # How long the broker sleeps when the queue is empty: every run waits for it twice on its way
    # to a GPU (the dispatch task, then its job's task). One indexed SELECT per poll is cheap.
    "poll": 0.05,
    "save_limit": 1000,
    "ack_failures": True,
    "sync": env_bool("COSMOS_Q_SYNC", False),
    "label": "Task queue",
}

# The product's own settings.
COSMOS = {
    # Server-side folders a CLI/staff user may create prompts from (comma separated).
    "INPUT_ROOTS": [
        str(Path(p).expanduser().resolve())
        for p in env_list("COSMOS_INPUT_ROOTS", [str(DATA_DIR), str(BASE_DIR)])
    ],
    "DEFAULT_NUM_STEPS": int(os.environ.get("COSMOS_DEFAULT_NUM_STEPS", 35)),
    "DEFAULT_GUIDANCE": float(os.environ.get("COSMOS_DEFAULT_GUIDANCE", 8.0)),
    "DEFAULT_UPSCALE_WEIGHT": float(os.environ.get("COSMOS_DEFAULT_UPSCALE_WEIGHT", 0.5)),
    "DEFAULT_FPS": int(os.environ.get("COSMOS_DEFAULT_FPS", 24)),
    "SMART_NAMES": env_bool("COSMOS_SMART_NAMES", True),
    # Runs: how many compatible transfer runs share one container (one model load).
    "BATCH_MAX_RUNS": int(os.environ.get("COSMOS_BATCH_MAX_RUNS", 8)),
    # Jobs claimed per host beyond its GPU slots: their inputs upload while the GPU works.
    "PREFETCH_JOBS": int(os.environ.get("COSMOS_PREFETCH_JOBS", 1)),
    # A worker following a job refreshes its heartbeat this often; reconcile takes over a job
    # whose heartbeat is older than STALE_SECONDS.
    "HEARTBEAT_SECONDS": float(os.environ.get("COSMOS_HEARTBEAT_SECONDS", 5)),
    "STALE_SECONDS": float(os.environ.get("COSMOS_STALE_SECONDS", 60)),
    # A host that could not be reached gets no new job for this long; a run goes back to
    # pending at most HOST_ATTEMPTS times before it fails; a job whose host stays unreachable
    # this long after its worker vanished fails as lost.
    "HOST_RETRY_SECONDS": float(os.environ.get("COSMOS_HOST_RETRY_SECONDS", 30)),
    "HOST_ATTEMPTS": int(os.environ.get("COSMOS_HOST_ATTEMPTS", 3)),
    "LOST_AFTER_SECONDS": float(os.environ.get("COSMOS_LOST_AFTER_SECONDS", 1800)),
    # Threads each web server process runs requests on (cosmosproject.http_handler); the number
    # of processes, COSMOS_WEB_PROCESSES, is read by cosmosproject.serve. Two, not more: the
    # requests are CPU work under one GIL, and with 4 threads contending for it 50 clients got
    # p95 216-257 ms against 152-204 ms with 2 (same runs, bench/api.py's mix).
    "WEB_THREADS": int(os.environ.get("COSMOS_WEB_THREADS", 2)),
    # Pages and the API wait this long for hosts' answers not at hand (asked in the background,
    # gpu.live), then show the last ones: a host that does not answer holds no request.
    "HOST_STATUS_WAIT_SECONDS": float(os.environ.get("COSMOS_HOST_STATUS_WAIT_SECONDS", 1)),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # paramiko logs every connection at INFO: noise in `cosmos` output and the worker's log.
    "loggers": {"django.channels.server": {"level": "WARNING"}, "paramiko": {"level": "WARNING"}},
}
