"""The dashboard (queue, hosts at a glance, recent outputs) and the GPU hosts page.

Everyone may look at hosts; only staff act on them (the services refuse others). Live host status
goes over SSH, so the hosts page loads it in a fragment after the page itself has answered.
"""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from gpu.errors import GPUError
from gpu.executor import JOB_LABEL
from gpu.selectors import hosts_list
from gpu.services import host_check
from prompts.errors import DomainError
from runs.integrity import check_finished, recent_checks
from runs.selectors import host_loads, runs_active, runs_with_outputs
from runs.services import host_kill, hosts_status, integrity_verify_start

GALLERY_SIZE = 12


def _glance(user, *, live: bool = False) -> list[dict]:
    """Each host with its busy slots and GPUs: from its last check, or asked now when `live`."""
    loads = host_loads()
    statuses = {status["host"]: status for status in hosts_status(user=user)} if live else {}
    items = []
    for host in hosts_list(user=user):
        status = statuses.get(host.name)
        if status and status["checked_at"] is None:
            status = None  # not answered yet: its last check says more than nothing
        gpus = status["gpus"] if status else (host.last_check or {}).get("gpus", [])
        items.append({"host": host, "busy": loads.get(host.id, 0), "gpus": gpus,
                      "error": status["error"] if status else "", "live": status is not None})
    return items


@require_GET
def dashboard(request):
    queue = runs_active(user=request.user)
    if request.htmx and request.htmx.target == "dashboard-queue":  # the queue polls itself
        return render(request, "runs/_queue.html", {"queue": queue})
    context = {
        "queue": queue,
        "hosts": _glance(request.user),
        "gallery": runs_with_outputs(user=request.user, limit=GALLERY_SIZE),
    }
    return render(request, "runs/dashboard.html", context)


@require_GET
def hosts_glance(request):
    """The dashboard's hosts card with GPU memory and load asked from the hosts now."""
    return render(request, "runs/_host_glance.html", {"hosts": _glance(request.user, live=True)})


@require_GET
def hosts_page(request):
    return render(request, "runs/hosts.html", {"hosts": _glance(request.user)})


@require_GET
def hosts_live(request):
    """Live status of every host (GPUs, containers and the runs in them), polled by the hosts page.
    A container's log is followed live on its run's page (the run's log is the container's)."""
    statuses = hosts_status(user=request.user)
    for status in statuses:
        for container in status["containers"]:
            job = container.get("labels", {}).get(JOB_LABEL)
            container["runs"] = [op for op in status["operations"] if job and op.get("job") == job]
    return render(request, "runs/_hosts_live.html", {"statuses": statuses})


@require_POST
def host_kill_view(request, host_name: str):
    try:
        results = host_kill(user=request.user, host_name=host_name)
    except (DomainError, GPUError) as exc:
        messages.error(request, exc.message)
    else:
        killed = sum(len(result.get("killed", [])) for result in results)
        messages.success(request, f"Killed {killed} container{'s' if killed != 1 else ''} on {host_name}.")
    return redirect("runs:hosts")


@require_POST
def host_check_view(request, host_name: str):
    try:
        report = host_check(user=request.user, name=host_name)
    except GPUError as exc:
        messages.error(request, exc.message)
    else:
        level = messages.SUCCESS if report.ok else messages.WARNING
        messages.add_message(request, level, f"Checked {host_name}: {report.summary}.")
    return redirect("runs:hosts")


@require_http_methods(["GET", "POST"])
def integrity_page(request):
    """Staff: start an integrity check (or check and fix) in the worker; see the latest reports.
    While `?task=` has not finished, the page polls itself."""
    if not request.user.is_staff:
        messages.error(request, "Only staff may verify every user's files.")
        return redirect("runs:hosts")
    if request.method == "POST":
        try:
            task_id = integrity_verify_start(user=request.user, fix=request.POST.get("fix") == "1")
        except DomainError as exc:
            messages.error(request, exc.message)
            return redirect("runs:integrity")
        return redirect(f"{reverse('runs:integrity')}?task={task_id}")
    pending = request.GET.get("task", "")
    context = {"checks": recent_checks(), "pending": pending if pending and not check_finished(pending) else ""}
    partial = request.htmx and request.htmx.target == "integrity-results"
    return render(request, "runs/_integrity_results.html" if partial else "runs/integrity.html", context)
