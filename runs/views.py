"""Run pages: the list with filters, a run's page, and its actions (cancel, retry, upscale, delete).

Entry points only: read through runs.selectors, act through runs.services, show domain errors as
messages. Another user's run is a 404 (never revealed).
"""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from prompts.errors import DomainError
from prompts.models import ModelType
from prompts.pages import PAGE_SIZE, attempt, get_or_404, offset_for, page_number, pager_for
from runs.forms import RunFilterForm, UpscaleForm
from runs.models import ACTIVE_STATUSES, FINISHED_STATUSES, RunStatus
from runs.progress_bar import progress_scale
from runs.output_files import output_file_path, output_files
from runs.selectors import batch_summary, run_get, run_upscales, runs_for_user
from runs.services import run_cancel, run_delete, run_retry, upscale_submit

# Parameters shown first, in this order; anything else in the config follows.
PARAMETER_ORDER = ("num_steps", "guidance", "seed", "sigma_max", "blur_strength", "canny_threshold", "fps")


@require_GET
def run_list(request):
    form = RunFilterForm(request.GET)
    filters = form.filters()
    if not request.user.is_staff:
        filters.pop("owner", None)
    number = page_number(request)
    page = attempt(
        request,
        runs_for_user,
        user=request.user,
        status=filters.get("status"),
        prompt_id=filters.get("prompt"),
        model_type=filters.get("model_type"),
        owner=filters.get("owner"),
        batch=filters.get("batch"),
        limit=PAGE_SIZE,
        offset=offset_for(number),
    )
    if page is None:  # a filter the selector refused: show everything, with the message
        page = runs_for_user(user=request.user, limit=PAGE_SIZE, offset=offset_for(number))
    context = {
        "form": form,
        "page": page,
        "pager": pager_for(page, number),
        "any_active": any(run.status in ACTIVE_STATUSES for run in page.items),
        "batch": batch_summary(user=request.user, batch=filters["batch"]) if filters.get("batch") else None,
    }
    partial = request.htmx and request.htmx.target == "run-results"
    return render(request, "runs/_results.html" if partial else "runs/list.html", context)


def run_context(request, run) -> dict:
    """What a run's page (and its refreshed summary) shows."""
    files = output_files(run)
    names = {f.name for f in files}
    upscales = run_upscales(user=request.user, run=run)
    upscaled = next((u for u in upscales if u.status == RunStatus.COMPLETED), None)
    config = dict(run.execution_config or {})
    weights = config.pop("weights", None)
    ordered = [(key, config.pop(key)) for key in PARAMETER_ORDER if key in config]
    return {
        "run": run,
        "files": files,
        "has_output": "output.mp4" in names,
        "poster": "output.jpg" if "output.jpg" in names else None,
        "upscales": upscales,
        "upscaled": upscaled,
        "weights": weights,
        "parameters": ordered + sorted(config.items()),
        "is_active": run.status in ACTIVE_STATUSES,
        "is_finished": run.status in FINISHED_STATUSES,
        "can_upscale": run.model_type == ModelType.TRANSFER and run.status == RunStatus.COMPLETED and "output.mp4" in names,
        "upscale_form": UpscaleForm(),
        "websocket_path": f"/ws/runs/{run.id}/",
        "progress_scale": progress_scale(),
        "compare": _compare_sources(run, upscaled, has_output="output.mp4" in names),
        "compare_fps": (run.execution_config or {}).get("fps") or (run.prompt.inputs or {}).get("color", {}).get("fps") or 24,
    }


def _compare_sources(run, upscaled, *, has_output: bool) -> list[dict]:
    """Input, output and upscaled videos of a run, when at least two of them exist."""
    sources = []
    if "color" in (run.prompt.inputs or {}):
        sources.append({"label": "Input", "url": reverse("prompts:input", args=[run.prompt_id, "color"])})
    if run.model_type == ModelType.UPSCALE:
        parent = run.parent
        if parent is not None and output_file_path(parent, "output.mp4"):
            sources.append({"label": "Output", "url": reverse("runs:file", args=[parent.id, "output.mp4"])})
        if has_output:
            sources.append({"label": "Upscaled", "url": reverse("runs:file", args=[run.id, "output.mp4"])})
    elif run.model_type == ModelType.TRANSFER:
        if has_output:
            sources.append({"label": "Output", "url": reverse("runs:file", args=[run.id, "output.mp4"])})
        if upscaled is not None and output_file_path(upscaled, "output.mp4"):
            sources.append({"label": "Upscaled", "url": reverse("runs:file", args=[upscaled.id, "output.mp4"])})
    return sources if len(sources) >= 2 else []


@require_GET
def run_detail(request, run_id: str):
    run = get_or_404(run_get, user=request.user, run_id=run_id)
    context = run_context(request, run)
    if request.htmx and request.htmx.target == "run-summary":
        return render(request, "runs/_summary.html", context)
    return render(request, "runs/detail.html", context)


def new_run_redirect(request, run, *, doing: str, back: str):
    """To the page of a run an action just made, saying so; back where it came from when the
    action was refused (its message is already there)."""
    if run is None:
        return redirect(back)
    messages.success(request, f"{doing} as run {run.id}.")
    return redirect("runs:detail", run_id=run.id)


@require_POST
def run_cancel_view(request, run_id: str):
    get_or_404(run_get, user=request.user, run_id=run_id)
    run = attempt(request, run_cancel, user=request.user, run_id=run_id)
    if run is not None:
        if run.status == RunStatus.CANCELLED:
            messages.success(request, f"Run {run.id} is cancelled.")
        else:
            messages.info(request, f"Run {run.id} is {run.status}: its container is being stopped.")
    return redirect("runs:detail", run_id=run_id)


@require_POST
def run_retry_view(request, run_id: str):
    get_or_404(run_get, user=request.user, run_id=run_id)
    run = attempt(request, run_retry, user=request.user, run_id=run_id)
    return new_run_redirect(request, run, doing="Retrying", back=reverse("runs:detail", args=[run_id]))


@require_POST
def run_upscale_view(request, run_id: str):
    get_or_404(run_get, user=request.user, run_id=run_id)
    form = UpscaleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The upscale weight must be a number from 0 to 1.")
        return redirect("runs:detail", run_id=run_id)
    submission = attempt(request, upscale_submit, user=request.user, run_id=run_id, weight=form.cleaned_data["weight"])
    run = submission.runs[0] if submission else None
    return new_run_redirect(request, run, doing="Upscaling", back=reverse("runs:detail", args=[run_id]))


@require_POST
def run_delete_view(request, run_id: str):
    run = get_or_404(run_get, user=request.user, run_id=run_id)
    try:
        run_delete(user=request.user, run_id=run_id, force=request.POST.get("force") == "1")
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("runs:detail", run_id=run_id)
    messages.success(request, f"Deleted run {run_id}.")
    return redirect(reverse("prompts:detail", args=[run.prompt_id]))
