"""`/api/prompts`: list, search and create prompts. Parses input, calls prompts' services, presents.

A prompt's own page (`/api/prompts/{id}`, with its runs), its deletion and enhancement live in
`runs.api`: they involve runs, and `prompts` imports no other app.
"""

from __future__ import annotations

import json

import pydantic
from ninja import Query, Router, Status
from ninja.errors import HttpError, ValidationError

from accounts.auth import api_auth
from prompts.errors import InvalidInput, NotAllowed
from prompts.schemas import BODY_ERRORS, ERRORS, PromptFieldsIn, PromptFromDirIn, PromptListQuery, PromptOut, PromptPageOut
from prompts.selectors import prompt_to_dict, prompts_list, prompts_search
from prompts.services import prompt_create
from prompts.videos import ROLES

router = Router(tags=["prompts"], auth=api_auth)


_upload_schema = {
    "type": "object",
    "required": ["prompt_text", "color"],
    "properties": {
        "prompt_text": {"type": "string", "example": "A futuristic city at night with neon lights"},
        "name": {"type": "string", "description": "Empty: a smart name is chosen"},
        "negative_prompt": {"type": "string", "description": "Empty: NVIDIA's default negative prompt"},
        **{
            role: {"type": "string", "format": "binary", "description": f"{role}.mp4"}
            for role in ROLES
        },
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
    page = prompts_search(query=query, **common) if query else prompts_list(**common)
    return page.to_dict(prompt_to_dict)


@router.post(
    "/prompts",
    response={200: PromptOut, 201: PromptOut, **BODY_ERRORS},
    summary="Create a prompt",
    description=(
        "Upload the control videos as `multipart/form-data` (`color` required; `depth`, `segmentation` "
        "optional) with the text fields; or, staff only, send JSON with `video_dir`, a folder on the server. "
        "Each video must decode as video. Creating the same prompt again returns the existing one with 200; "
        "a new prompt answers 201."
    ),
    openapi_extra=CREATE_BODY,
)
def prompt_post(request):
    user = request.auth
    if request.content_type == "multipart/form-data":
        fields = _validated(PromptFieldsIn, request.POST.dict(), loc=("form",))
        unknown = sorted(set(request.FILES) - set(ROLES))
        if unknown:
            raise InvalidInput(f"Unknown file {unknown[0]!r}: send {', '.join(ROLES)}.", field=unknown[0])
        files = {role: request.FILES[role] for role in ROLES if role in request.FILES}
        prompt = prompt_create(user=user, files=files, **fields.dict())
    elif request.content_type == "application/json":
        if not user.is_staff:
            raise NotAllowed("Only staff may create prompts from folders on the server; upload the videos instead.")
        payload = _validated(PromptFromDirIn, _json_body(request), loc=("body", "payload"))
        prompt = prompt_create(user=user, **payload.dict())
    else:
        return Status(415, {"detail": "Send multipart/form-data (uploads) or application/json (a server folder, staff)."})
    return Status(201 if prompt.was_created else 200, prompt_to_dict(prompt))


def _json_body(request):
    try:
        return json.loads(request.body)
    except ValueError as exc:
        raise HttpError(400, "Cannot parse request body") from exc  # worded like ninja's own


def _validated(schema: type[pydantic.BaseModel], data, *, loc: tuple[str, ...]):
    """`data` validated by `schema`; a failure is reported like ninja's own validation errors.

    `loc` follows ninja: form fields are flat (`("form",)`), a JSON body sits under the name of
    the parameter it would fill (`("body", "payload")`).
    """
    if not isinstance(data, dict):
        raise InvalidInput("The request body must be a JSON object.")
    try:
        return schema.model_validate(data)
    except pydantic.ValidationError as exc:
        raise ValidationError(
            [{"loc": (*loc, *error["loc"]), "msg": error["msg"], "type": error["type"]} for error in exc.errors()]
        ) from None

