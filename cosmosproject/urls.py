"""Top-level URLs: each app's pages, the admin, the JSON API."""

from django.contrib import admin
from django.urls import include, path

from cosmosproject.api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("accounts/", include("accounts.urls")),
]
