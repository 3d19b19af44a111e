"""What `runs` does for prompts in the browser: start inference (one prompt or a batch), enhance,
delete a prompt with its runs, and refresh a prompt's runs table.

They live here because they call runs.services, and `prompts` may not import `runs`.
"""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from prompts.errors import DomainError
from prompts.pages import attempt, get_or_404
from prompts.selectors import prompt_get
from runs.forms import InferenceForm
from runs.prompt_sections import prompt_runs_context
from runs.views import new_run_redirect
from runs.services import enhance_submit, inference_submit, prompt_delete

MAX_BATCH = 200


@require_http_methods(["GET", "POST"])
def run_new(request):
    """GET: the inference form for the prompts ticked on the prompt list; POST: submit it."""
    source = request.POST if request.method == "POST" else request.GET
    prompt_ids = list(dict.fromkeys(source.getlist("prompt_ids")))[:MAX_BATCH]
    prompts = []
    for prompt_id in prompt_ids:
        prompt = attempt(request, prompt_get, user=request.user, prompt_id=prompt_id)
        if prompt is not None:
            prompts.append(prompt)
    form = InferenceForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and prompts and len(prompts) == len(prompt_ids) and form.is_valid():
        try:
            submission = inference_submit(
                user=request.user,
                prompt_ids=[p.id for p in prompts],
                params=form.params(),
                batch_name=form.cleaned_data["batch_name"],
                priority=form.cleaned_data["priority"] or 0,
            )
        except DomainError as exc:
            form.add_error(_form_field(form, exc.field), exc.message)
        else:
            runs = submission.runs
            if len(runs) == 1:
                messages.success(request, f"Started run {runs[0].id}.")
                return redirect("runs:detail", run_id=runs[0].id)
            messages.success(request, f"Started {len(runs)} runs as batch “{submission.batch_name or submission.batch_id}”.")
            return redirect("runs:list")
    if not prompts:
        messages.error(request, "Tick at least one of your prompts to run.")
        return redirect("prompts:list")
    # The form again (for a batch, or with what to fix), beside the prompts it is for.
    return render(request, "runs/new.html", {"prompts": prompts, "form": form}, status=422 if form.errors else 200)


def _form_field(form, field: str | None) -> str | None:
    if field == "weights":
        return None
    return field if field in form.fields else None


@require_POST
def prompt_enhance_view(request, prompt_id: str):
    get_or_404(prompt_get, user=request.user, prompt_id=prompt_id)
    overwrite = request.POST.get("mode") == "overwrite"
    resolution = request.POST.get("resolution", "").strip()
    if resolution and not resolution.isdigit():
        messages.error(request, f"Resolution {resolution!r} is not a whole number of pixels (e.g. 480).")
        return redirect("prompts:detail", prompt_id=prompt_id)
    submission = attempt(request, enhance_submit, user=request.user, prompt_ids=[prompt_id], overwrite=overwrite,
                         resolution=int(resolution) if resolution else None)
    run = submission.runs[0] if submission else None
    return new_run_redirect(request, run, doing="Enhancing the prompt", back=reverse("prompts:detail", args=[prompt_id]))


@require_POST
def prompt_delete_view(request, prompt_id: str):
    get_or_404(prompt_get, user=request.user, prompt_id=prompt_id)
    try:
        prompt_delete(user=request.user, prompt_id=prompt_id, force=request.POST.get("force") == "1")
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("prompts:detail", prompt_id=prompt_id)
    messages.success(request, f"Deleted prompt {prompt_id} and its runs.")
    return redirect("prompts:list")


@require_GET
def prompt_runs(request, prompt_id: str):
    """The runs table of a prompt's page, refreshed by htmx while a run is active."""
    prompt = get_or_404(prompt_get, user=request.user, prompt_id=prompt_id)
    return render(request, "runs/_prompt_runs.html", prompt_runs_context(request, prompt))
