"""`/api/prompts`: list, search and create prompts. Parses input, calls prompts' services, presents.

A prompt's own page (`/api/prompts/{id}`, with its runs), its deletion and enhancement live in
`runs.api`: they involve runs, and `prompts` imports no other app.
"""

from __future__ import annotations

from ninja import Query, Router, Status

from accounts.auth import api_auth
from prompts.api_body import json_body, validated
from prompts.api_render import shaped_response
from prompts.errors import InvalidInput, NotAllowed
from prompts.prepare.selectors import preparation_get
from prompts.prepare.services import prepare_options, preparation_start
from prompts.schemas import (
    BODY_ERRORS,
    ERRORS,
    PreparationOut,
    PrepareZipIn,
    PromptFieldsIn,
    PromptFromDirIn,
    PromptListQuery,
    PromptOut,
    PromptPageOut,
)
from prompts.selectors import prompt_to_dict, prompts_list_as_dicts, prompts_search_as_dicts
from prompts.services import prompt_create
from prompts.videos import ROLES

router = Router(tags=["prompts"], auth=api_auth)


_upload_schema = {
    "type": "object",
    "required": ["prompt_text"],
    "properties": {
        "prompt_text": {"type": "string", "example": "A futuristic city at night with neon lights"},
        "name": {"type": "string", "description": "Empty: a smart name is chosen"},
        "negative_prompt": {"type": "string", "description": "Empty: NVIDIA's default negative prompt (videos only)"},
        **{role: {"type": "string", "format": "binary", "description": f"{role}.mp4"} for role in ROLES},
        "zip": {"type": "string", "format": "binary", "description": "A zip of PNG sequences, instead of videos"},
        **{field: PrepareZipIn.model_json_schema()["properties"][field] for field in ("fps", "fit", "description")},
    },
}
CREATE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {"schema": _upload_schema},
            "application/json": {"schema": PromptFromDirIn.model_json_schema()},
        },
    }
}


@router.get(
    "/prompts",
    response={200: PromptPageOut, **ERRORS},
    summary="List or search prompts",
    description="Newest first. With `q`, only prompts whose text or name contains it (case-insensitive). "
    "A user sees their own prompts; staff see everyone's.",
)
def prompts_get(request, filters: Query[PromptListQuery]):
    query = (filters.q or "").strip()
    common = {"user": request.auth, "model_type": filters.model_type, "limit": filters.limit, "offset": filters.offset}
    page = prompts_search_as_dicts(query=query, **common) if query else prompts_list_as_dicts(**common)
    return shaped_response(page.to_dict(dict))


@router.post(
    "/prompts",
    response={200: PromptOut, 201: PromptOut, 202: PreparationOut, **BODY_ERRORS},
    summary="Create a prompt",
    description=(
        "Upload the control videos as `multipart/form-data` (`color` required; `depth`, `segmentation` "
        "optional) with the text fields; or, staff only, send JSON with `video_dir`, a folder on the server. "
        "Each video must decode as video. Creating the same prompt again returns the existing one with 200; "
        "a new prompt answers 201. A `zip` of PNG sequences (`fps`, `fit`, `description` apply) is prepared "
        "in the background instead: 202 with the preparation to poll, which names the prompt once made."
    ),
    openapi_extra=CREATE_BODY,
)
def prompt_post(request):
    user = request.auth
    if request.content_type == "multipart/form-data" and "zip" in request.FILES:
        return Status(202, _preparation_out(_zip_prepare(request)))
    if request.content_type == "multipart/form-data":
        fields = validated(PromptFieldsIn, request.POST.dict(), loc=("form",))
        unknown = sorted(set(request.FILES) - set(ROLES))
        if unknown:
            raise InvalidInput(f"Unknown file {unknown[0]!r}: send {', '.join(ROLES)}.", field=unknown[0])
        files = {role: request.FILES[role] for role in ROLES if role in request.FILES}
        prompt = prompt_create(user=user, files=files, **fields.dict())
    elif request.content_type == "application/json":
        if not user.is_staff:
            raise NotAllowed("Only staff may create prompts from folders on the server; upload the videos instead.")
        payload = validated(PromptFromDirIn, json_body(request), loc=("body", "payload"))
        prompt = prompt_create(user=user, **payload.dict())
    else:
        detail = "Send multipart/form-data (uploads) or application/json (a server folder, staff)."
        return Status(415, {"detail": detail})
    return Status(201 if prompt.was_created else 200, prompt_to_dict(prompt))


@router.get(
    "/preparations/{job_id}",
    response={200: PreparationOut, **ERRORS},
    summary="A zip of PNG sequences being prepared",
    description="Status, stage and percent; when it succeeded, `prompt_id`; when it failed, the error and every "
    "problem found.",
)
def preparation_detail(request, job_id: str):
    return _preparation_out(preparation_get(user=request.auth, job_id=job_id))


def _zip_prepare(request):
    others = sorted(set(request.FILES) - {"zip"})
    if others:
        raise InvalidInput(f"Send a zip of PNG sequences or the videos, not both ({others[0]!r}).", field=others[0])
    if request.POST.get("negative_prompt"):
        raise InvalidInput("A prompt prepared from a zip takes the default negative prompt.", field="negative_prompt")
    fields = validated(PrepareZipIn, request.POST.dict(), loc=("form",))
    options = prepare_options(**fields.dict())
    upload = request.FILES["zip"]
    return preparation_start(user=request.auth, upload=upload, filename=upload.name, options=options)


def _preparation_out(job) -> dict:
    return {
        "id": job.id,
        "url": f"/api/preparations/{job.id}",
        "status": job.status,
        "stage": job.stage,
        "progress": job.progress,
        "upload_name": job.upload_name,
        "error": job.error,
        "problems": job.problems,
        "notices": job.notices,
        "prompt_id": job.prompt_id,
        "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }
