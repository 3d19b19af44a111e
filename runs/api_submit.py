"""How `POST /api/runs` reads its body: JSON naming existing prompts (or, for staff, a server folder
to create one from), or a multipart upload that creates a prompt and runs it.

The operation reads its own body because ninja parses and documents one content type per
operation; `prompts.api_body` keeps errors and docs in ninja's shape. The result is a `Submit`:
the service call to make, and a description of the request for an `Idempotency-Key`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from prompts.api_body import JSON, MULTIPART, form_schema, inline_schema, json_body, validated
from prompts.errors import InvalidInput, NotAllowed
from prompts.videos import ROLES, upload_sha256
from runs import services
from runs.schemas import RunSubmitIn, UploadRunForm
from runs.submit import Submission

SUBMIT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            JSON: {"schema": inline_schema(RunSubmitIn)},
            MULTIPART: {
                "schema": {
                    **form_schema(UploadRunForm, files={role: f"{role}.mp4" for role in ROLES}),
                    "required": ["prompt_text", "color"],
                }
            },
        },
    }
}


@dataclass
class Submit:
    """A request parsed and checked for shape, ready to submit once. `request_data` describes it
    for an Idempotency-Key, computed only when a key is given (for an upload it hashes the videos)."""

    call: Callable[[], Submission]
    request_data: Callable[[], dict]
    dry_run: bool = False
    creates_prompt: bool = False

    def __call__(self) -> Submission:
        return self.call()


def submission_request(request) -> Submit | None:
    """The submission the request asks for; None for a content type this operation does not take."""
    if request.content_type == MULTIPART:
        return _upload(request)
    if request.content_type == JSON:
        return _json(request)
    return None


def _json(request) -> Submit:
    user = request.auth
    payload = validated(RunSubmitIn, json_body(request), loc=("body", "payload"))
    target = payload.target()
    common = {"params": payload.params(), "batch_name": payload.batch_name, "priority": payload.priority}
    if target == "prompt":
        _no_dry_run(payload.dry_run)
        if not user.is_staff:
            raise NotAllowed(
                "Only staff may create prompts from folders on the server; upload the videos instead "
                "(multipart/form-data).",
                field="prompt",
            )

        def call() -> Submission:
            return services.create_and_run(user=user, **payload.prompt.model_dump(), **common)

    else:
        ids = {"prompt_id": [payload.prompt_id], "prompt_ids": payload.prompt_ids}.get(target)

        def call() -> Submission:
            return services.inference_submit(
                user=user, prompt_ids=ids, items=payload.entries(), dry_run=payload.dry_run, **common
            )

    return Submit(
        call,
        request_data=lambda: payload.model_dump(mode="json", exclude_unset=True),
        dry_run=payload.dry_run,
        creates_prompt=target == "prompt",
    )


def _upload(request) -> Submit:
    if "zip" in request.FILES:
        raise InvalidInput(
            "Create-and-run takes videos. Send a zip of PNG sequences to POST /api/prompts, then run the "
            "prompt it makes by its prompt_id.",
            field="zip",
        )
    unknown = sorted(set(request.FILES) - set(ROLES))
    if unknown:
        raise InvalidInput(f"Unknown file {unknown[0]!r}: send {', '.join(ROLES)}.", field=unknown[0])
    _no_dry_run("dry_run" in request.POST)
    form = validated(UploadRunForm, request.POST.dict(), loc=("form",))
    files = {role: request.FILES[role] for role in ROLES if role in request.FILES}

    def call() -> Submission:
        return services.create_and_run(
            user=request.auth,
            prompt_text=form.prompt_text,
            name=form.name,
            negative_prompt=form.negative_prompt,
            files=files,
            params=form.params(),
            batch_name=form.batch_name,
            priority=form.priority,
        )

    # The videos by content: a retry with the same key and the same files is the same request.
    def request_data() -> dict:
        return {"form": request.POST.dict(), "files": {role: upload_sha256(upload) for role, upload in files.items()}}

    return Submit(call, request_data=request_data, creates_prompt=True)


def _no_dry_run(asked: bool) -> None:
    if asked:
        raise InvalidInput(
            "A dry run needs an existing prompt: create the prompt (POST /api/prompts), then dry-run it by its id.",
            field="dry_run",
        )
