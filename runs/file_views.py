"""A run's files over HTTP: one file (with byte ranges, for seeking), all of them as a zip, and
the log viewer of its execution log. Only for users who may see the run."""

from __future__ import annotations

from django.http import Http404
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from logs.views import log_lines_response, log_viewer_response
from prompts.http_files import file_response, stream_response
from prompts.pages import get_or_404
from runs.models import ACTIVE_STATUSES
from runs.output_files import output_file_path, output_files
from runs.selectors import run_get, run_output_dir
from runs.zipstream import zip_chunks

LOG_NAME = "execution.log"


@require_http_methods(["GET", "HEAD"])
def run_file(request, run_id: str, name: str):
    run = get_or_404(run_get, user=request.user, run_id=run_id)
    path = output_file_path(run, name)
    if path is None:
        raise Http404(f"Run {run.id} has no file {name!r}.")
    return file_response(request, path, as_attachment=request.GET.get("download") == "1")


@require_GET
def run_zip(request, run_id: str):
    """Every file of the run (outputs, manifest, spec, log) in one zip, streamed as it is made."""
    run = get_or_404(run_get, user=request.user, run_id=run_id)
    files = output_files(run)
    if not files:
        raise Http404(f"Run {run.id} has no files yet.")
    folder = run_output_dir(run)
    entries = [(f"{run.id}/{f.name}", folder / f.name) for f in files]
    response = stream_response(request, zip_chunks(entries), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{run.id}.zip"'
    return response


@require_GET
def run_log_viewer(request, run_id: str):
    """`/logs/<rs_id>/`: the searchable, filterable view of the run's log (access checked here)."""
    run = get_or_404(run_get, user=request.user, run_id=run_id)
    return log_viewer_response(
        request,
        log_path=run_output_dir(run) / LOG_NAME,
        title=f"Log of run {run.id}",
        back_url=reverse("runs:detail", args=[run.id]),
        live=run.status in ACTIVE_STATUSES,
    )


@require_GET
def run_log_lines(request, run_id: str):
    """Lines of the run's log as JSON, for the live panel's "show earlier" (access checked here)."""
    run = get_or_404(run_get, user=request.user, run_id=run_id)
    return log_lines_response(request, log_path=run_output_dir(run) / LOG_NAME)
