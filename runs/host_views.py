"""The dashboard (queue, hosts at a glance, recent outputs) and the GPU hosts page.

Everyone may look at hosts; only staff act on them (the services refuse others). Live host status
goes over SSH, so the hosts page loads it in a fragment after the page itself has answered.
"""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from gpu.selectors import hosts_list
from gpu.services import host_check
from prompts.errors import NotAllowed
from prompts.pages import attempt
from runs.selectors import host_loads, runs_active, runs_with_outputs
from runs.services import host_kill, hosts_status

GALLERY_SIZE = 12


def _glance() -> list[dict]:
    loads = host_loads()
    return [{"host": host, "busy": loads.get(host.id, 0)} for host in hosts_list()]


@require_GET
def dashboard(request):
    context = {
        "queue": runs_active(user=request.user),
        "hosts": _glance(),
        "gallery": runs_with_outputs(user=request.user, limit=GALLERY_SIZE),
    }
    if request.htmx and request.htmx.target == "dashboard-queue":
        return render(request, "runs/_queue.html", context)
    return render(request, "runs/dashboard.html", context)


@require_GET
def hosts_page(request):
    return render(request, "runs/hosts.html", {"hosts": _glance()})


@require_GET
def hosts_live(request):
    """Live status of every host (GPUs, containers, the runs in them), polled by the hosts page."""
    return render(request, "runs/_hosts_live.html", {"statuses": hosts_status(user=request.user)})


@require_POST
def host_kill_view(request, host_name: str):
    results = attempt(request, host_kill, user=request.user, host_name=host_name)
    if results is not None:
        killed = sum(len(result.get("killed", [])) for result in results)
        messages.success(request, f"Killed {killed} container{'s' if killed != 1 else ''} on {host_name}.")
    return redirect("runs:hosts")


@require_POST
def host_check_view(request, host_name: str):
    if not request.user.is_staff:
        messages.error(request, NotAllowed("Only staff may check hosts.").message)
        return redirect("runs:hosts")
    report = attempt(request, host_check, name=host_name)
    if report is not None:
        messages.success(request, f"Checked {host_name}.")
    return redirect("runs:hosts")
