"""Ninja schemas of the prompts API: what goes in and out of `/api/prompts`, with examples.

Output schemas describe `prompts.selectors.prompt_to_dict` (the one JSON shape of a prompt, shared
with the CLI's `--json`). `ErrorOut` is the body of every error the API returns.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from ninja import Field, Schema
from pydantic import BaseModel, WithJsonSchema

from prompts.models import ModelType
from prompts.paging import MAX_LIMIT
from prompts.selectors import MAX_QUERY_CHARS

ModelTypeName = Literal[tuple(ModelType.values)]  # type: ignore[valid-type]
# Paging far past any real table only risks integer overflow in the database driver.
MAX_OFFSET = 1_000_000_000
EXAMPLE_PROMPT_ID = "ps_4f1c2a9e0b7d3c5a8e6f1b2d"
# The selectors' dicts already hold ISO 8601 text: documented as date-time, passed through as is
# (parsing it into datetime only for the JSON encoder to format it back is wasted work on every list).
Timestamp = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]


class Out(BaseModel):
    """Base of the output schemas. They validate the selectors' plain dicts, so plain pydantic
    (validation in its Rust core) instead of ninja's Schema, which wraps every object in a Python
    attribute getter meant for ORM objects: a page of 50 runs took 6.8 ms of CPU with it, 5.1 without."""


class FieldErrorOut(Out):
    field: str = Field(description="Dotted path of the offending field, empty when the whole body is wrong")
    message: str


class ErrorOut(Out):
    detail: str = Field(examples=["num_steps: Input should be less than or equal to 200"])
    field: str | None = Field(None, description="The field at fault, when there is one", examples=["num_steps"])
    errors: list[FieldErrorOut] | None = Field(None, description="Every problem found (validation errors only)")


# The error statuses every authenticated operation may answer, and those of operations with a body
# (which may also be malformed, too big or of another content type).
ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}
BODY_ERRORS = {**ERRORS, 400: ErrorOut, 413: ErrorOut, 415: ErrorOut}


class InputVideoOut(Out):
    path: str = Field(description="Where the video is stored, relative to the data folder")
    sha256: str
    size: int
    width: int
    height: int
    fps: float
    frames: int
    codec: str
    duration: float


class PromptOut(Out):
    id: str = Field(examples=[EXAMPLE_PROMPT_ID])
    name: str = Field(examples=["futuristic_city_night"])
    name_is_auto: bool = Field(description="True while the name is automatic (a smart name may still replace it)")
    owner: str = Field(examples=["alice"])
    model_type: ModelTypeName
    prompt_text: str = Field(examples=["A futuristic city at night with neon lights"])
    negative_prompt: str
    inputs: dict[str, InputVideoOut] = Field(description="Control videos by role: color, depth, segmentation")
    parameters: dict[str, Any]
    enhanced_from: str | None = Field(description="Id of the prompt this one was enhanced from")
    created_at: Timestamp
    updated_at: Timestamp


class PageFields(Out):
    """The paging fields of every list (`prompts.paging.Page.to_dict`)."""

    total: int = Field(description="Matching items in all pages (at least this many when `total_exact` is false)")
    total_exact: bool = Field(description="False when a search stopped counting at its cap")
    limit: int
    offset: int


class PromptPageOut(PageFields):
    items: list[PromptOut]


class PromptListQuery(Schema):
    q: str | None = Field(
        None, max_length=MAX_QUERY_CHARS, description="Case-insensitive search in text and name", examples=["neon"]
    )
    model_type: ModelTypeName | None = None
    limit: int = Field(50, ge=1, le=MAX_LIMIT)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)


class PromptFieldsIn(Schema):
    """The text fields of a new prompt (multipart form fields, or JSON keys)."""

    prompt_text: str = Field(max_length=100_000, examples=["A futuristic city at night with neon lights"])
    name: str = Field("", max_length=1_000, description="Empty: a smart name is chosen", examples=["neon_city"])
    negative_prompt: str = Field("", max_length=100_000, description="Empty: NVIDIA's default negative prompt")


class PrepareZipIn(Schema):
    """The form fields sent with a zip of PNG sequences (prepared into videos, then a prompt)."""

    prompt_text: str = Field(max_length=100_000, examples=["A futuristic city at night with neon lights"])
    name: str = Field("", max_length=1_000, description="Empty: a name from the text")
    fps: float | None = Field(None, ge=1, le=120, description="Frame rate of the videos; default 24")
    fit: Literal["pad", "crop"] = Field(
        "pad", description="Reach the nearest accepted resolution by padding or cropping"
    )
    description: str = Field("", max_length=10_000)


class PreparationOut(Out):
    """A zip of PNG sequences being prepared in the background; poll `url` until `status` ends."""

    id: str = Field(examples=["pp_3f2a1b4c5d6e"])
    url: str = Field(examples=["/api/preparations/pp_3f2a1b4c5d6e"])
    status: Literal["pending", "running", "succeeded", "failed"]
    stage: str = Field(examples=["encoding"])
    progress: int = Field(ge=0, le=100)
    upload_name: str
    error: str
    problems: list[str] = Field(description="Every problem found in the sequences, when they were refused")
    notices: list[str]
    prompt_id: str | None = Field(description="The prompt made from the videos, once succeeded")
    created_at: Timestamp
    finished_at: Timestamp | None


class PromptFromDirIn(PromptFieldsIn):
    """A prompt from a folder on the server (staff only): color.mp4, optional depth.mp4, segmentation.mp4."""

    video_dir: str = Field(max_length=4_096, examples=["/srv/cosmos/inputs/scene1"])
    model_type: ModelTypeName = "transfer"
    parameters: dict[str, Any] | None = None

    model_config = {
        "extra": "forbid",
        "json_schema_extra": {
            "examples": [{"prompt_text": "A futuristic city at night", "video_dir": "/srv/cosmos/inputs/scene1"}]
        }
    }
