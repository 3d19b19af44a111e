"""Prompt pages: list with search and filter, create by upload, detail, rename, input videos.

Entry points only: they parse the request, call prompts.services / prompts.selectors and render.
Runs of a prompt, the inference form, enhance and delete come from `runs` through
prompts.page_sections (prompts imports no other app).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from prompts.errors import DomainError
from prompts.forms import PrepareZipForm, PromptCreateForm, PromptFilterForm, RenameForm
from prompts.http_files import file_response
from prompts.page_sections import prompt_page_sections
from prompts.pages import PAGE_SIZE, attempt, get_or_404, offset_for, page_number, pager_for
from prompts.selectors import prompt_get, prompt_input_paths, prompts_list, prompts_search
from prompts.services import prompt_create, prompt_rename

# How long a page keeps asking for the smart name of a new prompt before giving up.
SMART_NAME_WAIT_SECONDS = 60
# htmx stops polling when a response has this status.
HTMX_STOP_POLLING = 286


@require_GET
def prompt_list(request):
    form = PromptFilterForm(request.GET)
    form.is_valid()
    query = form.cleaned_data.get("q", "").strip()
    model_type = form.cleaned_data.get("model_type") or None
    number = page_number(request)
    common = {"user": request.user, "model_type": model_type, "limit": PAGE_SIZE, "offset": offset_for(number)}
    try:
        page = prompts_search(query=query, **common) if query else prompts_list(**common)
    except DomainError as exc:
        form.add_error(None, exc.message)
        page = prompts_list(**common)
    context = {"form": form, "query": query, "page": page, "pager": pager_for(page, number)}
    # The search box asks for the results only (htmx), so typing does not reload the page.
    template = "prompts/_results.html" if request.htmx and request.htmx.target == "prompt-results" else "prompts/list.html"
    return render(request, template, context)


@require_http_methods(["GET", "POST"])
def prompt_new(request):
    form = PromptCreateForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            prompt = prompt_create(
                user=request.user,
                prompt_text=data["prompt_text"],
                files=form.files_by_role(),
                name=data["name"],
                negative_prompt=data["negative_prompt"],
            )
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            if prompt.was_created:
                messages.success(request, f"Created prompt {prompt.id}.")
            else:
                messages.info(request, f"You already had this prompt: {prompt.id}.")
            return redirect("prompts:detail", prompt_id=prompt.id)
    context = {"form": form, "zip_form": PrepareZipForm()}
    return render(request, "prompts/new.html", context, status=422 if form.errors else 200)


@require_GET
def prompt_detail(request, prompt_id: str):
    prompt = get_or_404(prompt_get, user=request.user, prompt_id=prompt_id)
    context = {
        "prompt": prompt,
        "inputs": _inputs(prompt),
        "sections": prompt_page_sections(request, prompt),
        "name_pending": _name_pending(prompt),
    }
    return render(request, "prompts/detail.html", context)


@require_GET
def prompt_name(request, prompt_id: str):
    """The name badge, polled by the page until the smart name has arrived (then 286 stops htmx)."""
    prompt = get_or_404(prompt_get, user=request.user, prompt_id=prompt_id)
    pending = _name_pending(prompt)
    response = render(request, "prompts/_name.html", {"prompt": prompt, "name_pending": pending})
    if not pending:
        response.status_code = HTMX_STOP_POLLING
    return response


@require_POST
def prompt_rename_view(request, prompt_id: str):
    get_or_404(prompt_get, user=request.user, prompt_id=prompt_id)
    form = RenameForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give a name of at most 100 characters.")
    elif attempt(request, prompt_rename, user=request.user, prompt_id=prompt_id, name=form.cleaned_data["name"]):
        messages.success(request, "Renamed.")
    return redirect("prompts:detail", prompt_id=prompt_id)


@require_http_methods(["GET", "HEAD"])
def prompt_input(request, prompt_id: str, role: str) -> HttpResponse:
    """One input video of a prompt the user may see, with byte ranges so the player can seek."""
    prompt = get_or_404(prompt_get, user=request.user, prompt_id=prompt_id)
    path = _input_path(prompt, role)
    if path is None:
        raise Http404("No such input video.")
    return file_response(request, path, download_name=f"{prompt.id}_{role}.mp4")


def _input_path(prompt, role: str):
    path = prompt_input_paths(prompt).get(role)
    return path if path is not None and path.is_file() else None


def _inputs(prompt) -> list[dict]:
    inputs = []
    for role in ("color", "depth", "segmentation"):
        info = (prompt.inputs or {}).get(role)
        if isinstance(info, dict):
            inputs.append({"role": role, **info})
    return inputs


def _name_pending(prompt) -> bool:
    """Is the smart name still to come? A simple name is set at create; the smart-name task then
    saves its name (touching updated_at) unless the user named the prompt meanwhile."""
    if not (settings.COSMOS["SMART_NAMES"] and prompt.name_is_auto):
        return False
    touched = (prompt.updated_at - prompt.created_at).total_seconds() > 1
    young = (timezone.now() - prompt.created_at).total_seconds() < SMART_NAME_WAIT_SECONDS
    return young and not touched
