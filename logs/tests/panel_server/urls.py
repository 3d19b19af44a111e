"""The panel page (`/` allowed, `/refused` refused), the earlier-lines endpoint, the viewer page."""

import os

from django.http import HttpResponse
from django.template import engines
from django.urls import path

from logs.views import log_lines_response, log_viewer_response

PAGE = engines["django"].from_string(
    """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>panel</title>
<link rel="stylesheet" href="/static/css/app.css"><link rel="stylesheet" href="/static/logs/logs.css"></head><body><main>
{% include "logs/panel.html" with ws_url=ws_url lines_url="/lines" max_lines=300 %}
</main></body></html>"""
)


def panel(request, ws_url="/ws/log/"):
    return HttpResponse(PAGE.render({"ws_url": ws_url}, request))


def lines(request):
    return log_lines_response(request, log_path=os.environ["PANEL_LOG"])


def viewer(request):
    return log_viewer_response(request, log_path=os.environ["PANEL_LOG"], title="Log of rs_demo", back_url="/")


urlpatterns = [
    path("viewer", viewer),
    path("", panel),
    path("refused", panel, {"ws_url": "/ws/refused/"}),
    path("lines", lines),
]
