"""Top-level URLs: each app's pages, the admin, the JSON API."""

from django.contrib import admin
from django.urls import include, path

from cosmosproject.api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("accounts/", include("accounts.urls")),
    path("prompts/", include("prompts.urls")),
    # The dashboard at "/", /runs/, /hosts/, /logs/ and the run actions of a prompt's page.
    path("", include("runs.urls")),
]
