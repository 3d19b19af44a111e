"""Settings of the panel test site: only what the log pages need (templates, static files, channels)."""

from pathlib import Path

PROJECT = Path(__file__).resolve().parents[3]

SECRET_KEY = "panel-test-only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "django.contrib.staticfiles",
                  "django.contrib.humanize", "channels", "logs"]
MIDDLEWARE = ["whitenoise.middleware.WhiteNoiseMiddleware"]
ROOT_URLCONF = "logs.tests.panel_server.urls"
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "DIRS": [PROJECT / "templates"], "APP_DIRS": True}]
DATABASES = {}
STATIC_URL = "/static/"
STATICFILES_DIRS = [PROJECT / "static"]
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
USE_TZ = True
