"""Creating a prompt from a zip of PNG sequences in the browser: upload it, then watch the
background preparation (unpack, check frames, encode, create the prompt) until the prompt opens."""

from __future__ import annotations

from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from prompts.errors import DomainError
from prompts.forms import PromptCreateForm, PrepareZipForm
from prompts.pages import get_or_404
from prompts.prepare.models import PreparationStatus
from prompts.prepare.selectors import preparation_get
from prompts.prepare.services import preparation_start, prepare_options

HTMX_STOP_POLLING = 286


@require_POST
def preparation_new(request):
    form = PrepareZipForm(request.POST, request.FILES)
    if form.is_valid():
        data = form.cleaned_data
        try:
            options = prepare_options(
                name=data["name"], fps=data["fps"], description=data["description"], fit=data["fit"],
                prompt_text=data["prompt_text"],
            )
            job = preparation_start(user=request.user, upload=data["zip"], filename=data["zip"].name, options=options)
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            return redirect("prompts:preparation", job_id=job.id)
    context = {"form": PromptCreateForm(), "zip_form": form, "zip_open": True}
    return render(request, "prompts/new.html", context, status=422)


@require_GET
def preparation_detail(request, job_id: str):
    """The job's page; htmx asks again every second for the progress part until the job ends."""
    job = get_or_404(preparation_get, user=request.user, job_id=job_id)
    if not (request.htmx and request.htmx.target == "preparation"):
        return render(request, "prompts/preparation.html", {"job": job})
    response = render(request, "prompts/_preparation.html", {"job": job})
    if job.status == PreparationStatus.SUCCEEDED and job.prompt_id:
        response["HX-Redirect"] = f"/prompts/{job.prompt_id}/"
    elif job.finished:
        response.status_code = HTMX_STOP_POLLING
    return response
