"""`/api/runs`, a prompt's page with its runs, and the system endpoints: parse, call the services, present.

Each operation is a thin entry point over `runs.services` / `runs.selectors` / `runs.files` (and
`prompts.selectors` for a prompt). Who may do what is decided there; domain errors become HTTP
statuses in `cosmosproject.api`.
"""

from __future__ import annotations

from ninja import Body, Header, Query, Router, Status

from accounts.auth import api_auth
from prompts.api_render import shaped_response
from prompts.http_files import file_response
from prompts.schemas import BODY_ERRORS, ERRORS, ErrorOut
from prompts.selectors import prompt_get, prompt_to_dict
from runs import services
from runs.files import run_file_path, run_files, run_log_read
from runs.api_submit import SUBMIT_BODY, submission_request
from runs.idempotency import HEADER, submit_once
from runs.schemas import (
    MAX_LOG_CHUNK,
    EnhanceIn,
    KillOut,
    LogChunkOut,
    PromptDetailOut,
    RunDetailOut,
    RunListQuery,
    RunOut,
    RunPageOut,
    StatusOut,
    SubmissionOut,
    UpscaleIn,
    VerifyOut,
)
from runs.selectors import run_get, run_to_dict, runs_for_user_as_dicts, runs_of_prompt
from runs.submit import Submission

router = Router(auth=api_auth)

BINARY = {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
FILE_RESPONSES = {
    "responses": {
        "200": {"description": "The whole file", "content": BINARY},
        "206": {"description": "The byte range asked for with `Range: bytes=...`", "content": BINARY},
        "304": {"description": "Not modified since the ETag given in If-None-Match"},
        "416": {"description": "The range lies outside the file (Content-Range: bytes */size)"},
    }
}


def _submission_out(submission: Submission, *, replayed: bool = False) -> dict:
    return {
        "dry_run": submission.dry_run,
        "replayed": replayed,
        "batch_id": submission.batch_id,
        "batch_name": submission.batch_name,
        "runs": [run_to_dict(run) for run in submission.runs],
        "prompt": prompt_to_dict(submission.prompt) if submission.prompt is not None else None,
        "plan": submission.plan,
    }


def _submitted(submission: Submission, *, replayed: bool = False):
    """200 for a dry run (nothing was created), 201 for runs created now or by the replayed request."""
    return Status(200 if submission.dry_run else 201, _submission_out(submission, replayed=replayed))


# Prompt pages that involve runs.


@router.get(
    "/prompts/{prompt_id}",
    response={200: PromptDetailOut, **ERRORS},
    tags=["prompts"],
    summary="A prompt with its runs",
)
def prompt_detail(request, prompt_id: str):
    prompt = prompt_get(user=request.auth, prompt_id=prompt_id)
    runs = runs_of_prompt(user=request.auth, prompt=prompt)
    return {**prompt_to_dict(prompt), "runs": [run_to_dict(run) for run in runs]}


@router.delete(
    "/prompts/{prompt_id}",
    response={204: None, **ERRORS},
    tags=["prompts"],
    summary="Delete a prompt, its runs and their files",
    description="Refused with 409 while a run of the prompt is active, unless `force` (which cancels them first).",
)
def prompt_delete(request, prompt_id: str, force: bool = False):
    services.prompt_delete(user=request.auth, prompt_id=prompt_id, force=force)
    return Status(204, None)


@router.post(
    "/prompts/{prompt_id}/enhance",
    response={200: SubmissionOut, 201: SubmissionOut, **BODY_ERRORS},
    tags=["prompts"],
    summary="Enhance a prompt's text with the prompt upsampler",
    description="Starts an `enhance` run. On success its text becomes a new prompt linked to this one "
    "(`create_new`, the default) or replaces this prompt's text (refused with 409 if it has runs).",
)
def prompt_enhance(request, prompt_id: str, payload: Body[EnhanceIn] = None):
    payload = payload or EnhanceIn()
    submission = services.enhance_submit(
        user=request.auth,
        prompt_ids=[prompt_id],
        overwrite=not payload.create_new,
        resolution=payload.resolution,
        priority=payload.priority,
        dry_run=payload.dry_run,
    )
    return _submitted(submission)


# Runs.


@router.get(
    "/runs",
    response={200: RunPageOut, **ERRORS},
    tags=["runs"],
    summary="List runs",
    description="Newest first, filtered by status, prompt and model type. A user sees their own runs; "
    "staff see everyone's.",
)
def runs_list(request, filters: Query[RunListQuery]):
    return shaped_response(runs_for_user_as_dicts(user=request.auth, **filters.dict()).to_dict(dict))


@router.post(
    "/runs",
    response={200: SubmissionOut, 201: SubmissionOut, **BODY_ERRORS},
    tags=["runs"],
    summary="Run inference: one prompt, a batch, per-prompt parameters, or a new prompt",
    description=(
        "JSON names the prompts in exactly one way: `prompt_id` (one prompt); `prompt_ids` (a batch, one run "
        "per prompt, sharing a batch id); `prompts` (a batch whose entries each carry their own weights, "
        "seed, steps... over the shared parameters: one run per entry, the same prompt may come twice); or "
        "`prompt` (staff: create a prompt from a folder on the server and run it). `multipart/form-data` "
        "creates and runs a prompt from uploaded videos (`color` required; `depth`, `segmentation`), with the "
        "prompt's text fields and the run's parameters as form fields (`weights` as JSON text). Create-and-run "
        "is all or nothing: a bad parameter or video creates no prompt, no run and stores no file.\n\n"
        "Parameters not given come from the prompt, then the defaults. Runs whose global parameters agree "
        "share one container (one model load), each with its own weights; a different seed, step count, "
        "guidance, sigma, fps, blur, canny or negative prompt runs in a container of its own. `dry_run` "
        "returns the exact specs and commands and creates nothing (existing prompts only). With an "
        "`Idempotency-Key` header, repeating the request returns the runs it created (`replayed: true`) "
        "instead of new ones; the same key with another body is a 409 (a dry run creates nothing, so it "
        "ignores the key)."
    ),
    openapi_extra=SUBMIT_BODY,
)
def runs_create(
    request,
    idempotency_key: str | None = Header(
        None, alias=HEADER, description="Any unique string (e.g. a UUID) per logical request", max_length=200
    ),
):
    submit = submission_request(request)
    if submit is None:
        detail = "Send application/json (existing prompts; a server folder for staff) or multipart/form-data (uploads)."
        return Status(415, {"detail": detail})
    if idempotency_key is None or submit.dry_run:
        return _submitted(submit())
    submission, replayed = submit_once(
        user=request.auth, key=idempotency_key, request_data=submit.request_data(), submit=submit
    )
    if replayed and submit.creates_prompt and submission.runs:
        submission.prompt = submission.runs[0].prompt
    return _submitted(submission, replayed=replayed)


@router.get("/runs/{run_id}", response={200: RunDetailOut, **ERRORS}, tags=["runs"], summary="A run, with its files")
def run_detail(request, run_id: str):
    run = run_get(user=request.auth, run_id=run_id)
    files = [{**info, "url": f"/api/runs/{run.id}/files/{info['name']}"} for info in run_files(run)]
    return {**run_to_dict(run), "files": files}


@router.delete(
    "/runs/{run_id}",
    response={204: None, **ERRORS},
    tags=["runs"],
    summary="Delete a run and its files",
    description="Refused with 409 while the run is active, unless `force` (which cancels it first).",
)
def run_delete(request, run_id: str, force: bool = False):
    services.run_delete(user=request.auth, run_id=run_id, force=force)
    return Status(204, None)


@router.post(
    "/runs/{run_id}/cancel",
    response={200: RunOut, **ERRORS},
    tags=["runs"],
    summary="Cancel a run",
    description="A run that has not started is cancelled at once; a running one has its container killed "
    "(status `cancelling`, then `cancelled` once the container is gone). A finished run: 409.",
)
def run_cancel(request, run_id: str):
    return run_to_dict(services.run_cancel(user=request.auth, run_id=run_id))


@router.post(
    "/runs/{run_id}/retry",
    response={201: RunOut, **ERRORS},
    tags=["runs"],
    summary="Run a finished run again",
    description="A new pending run with the same parameters. A run that is still active: 409.",
)
def run_retry(request, run_id: str):
    return Status(201, run_to_dict(services.run_retry(user=request.auth, run_id=run_id)))


@router.post(
    "/runs/{run_id}/upscale",
    response={200: SubmissionOut, 201: SubmissionOut, **BODY_ERRORS},
    tags=["runs"],
    summary="Upscale a completed inference run to 4K",
    description="A new `upscale` run linked to this one. Refused with 409 unless the run completed with an output.",
)
def run_upscale(request, run_id: str, payload: Body[UpscaleIn] = None):
    payload = payload or UpscaleIn()
    submission = services.upscale_submit(
        user=request.auth, run_id=run_id, weight=payload.weight, priority=payload.priority, dry_run=payload.dry_run
    )
    return _submitted(submission)


@router.get(
    "/runs/{run_id}/logs",
    response={200: LogChunkOut, **ERRORS},
    tags=["runs"],
    summary="The run's log lines after an offset",
    description="For polling clients: start at offset 0, then ask again with `next_offset`. Only whole lines are "
    "returned. When `finished` is true and `lines` is empty, the log is complete.",
)
def run_logs(request, run_id: str, offset: int = Query(0, ge=0, le=2**62), max_bytes: int = Query(
        256 * 1024, ge=1024, le=MAX_LOG_CHUNK, description="About how many bytes of lines to return")):
    return run_log_read(user=request.auth, run_id=run_id, offset=offset, max_bytes=max_bytes)


@router.api_operation(
    ["GET", "HEAD"],
    "/runs/{run_id}/files/{name}",
    response={401: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    tags=["runs"],
    summary="Download one of the run's files",
    description="Supports `Range: bytes=...` (206), `If-None-Match` (304) and `If-Range`. Videos and images are "
    "served inline; `?download=true` asks for an attachment.",
    openapi_extra=FILE_RESPONSES,
)
def run_file(request, run_id: str, name: str, download: bool = False):
    path = run_file_path(user=request.auth, run_id=run_id, name=name)
    return file_response(request, path, as_attachment=download)


# The system: hosts, containers, integrity.

system_router = Router(auth=api_auth, tags=["system"])


@system_router.get(
    "/status", response={200: StatusOut, **ERRORS}, summary="GPU hosts, containers, operations and queue"
)
def status(request):
    return {"hosts": services.hosts_status(user=request.auth)}


@system_router.post(
    "/hosts/{name}/kill",
    response={200: KillOut, **ERRORS, 502: ErrorOut},
    summary="Kill every Cosmos container on a host (staff)",
    description="Their runs end `cancelled` once the containers are confirmed gone. 502 when the host cannot "
    "be reached or a container survives.",
)
def host_kill(request, name: str):
    return services.host_kill(user=request.auth, host_name=name)[0]


@system_router.post(
    "/verify",
    response={200: VerifyOut, **ERRORS},
    summary="Check that database and files agree (staff)",
    description="With `fix`, removes orphaned folders and inputs and marks broken runs failed, reporting each change.",
)
def verify(request, fix: bool = False):
    return services.integrity_verify(user=request.auth, fix=fix).to_dict()
