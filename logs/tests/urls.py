"""URLs for the view tests only: a caller wiring the reusable log views (no access check needed here:
every test log belongs to whoever is logged in)."""

from django.conf import settings
from django.urls import include, path

from logs.views import log_lines_response, log_viewer_response


def viewer(request, name):
    return log_viewer_response(request, log_path=settings.LOGS_DIR / f"{name}.log", title=f"Log of {name}", back_url="/runs/")


def lines(request, name):
    return log_lines_response(request, log_path=settings.LOGS_DIR / f"{name}.log")


urlpatterns = [
    path("log/<slug:name>/", viewer),
    path("log/<slug:name>/lines", lines),
    path("accounts/", include("accounts.urls")),
]
