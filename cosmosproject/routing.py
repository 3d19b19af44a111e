"""Websocket routes of every app, gathered in one list for asgi.py."""

from django.urls import re_path

from runs.consumers import RunLogConsumer

websocket_urlpatterns: list = [
    re_path(r"^ws/runs/(?P<run_id>rs_[A-Za-z0-9_-]{1,37})/$", RunLogConsumer.as_asgi()),
]
