"""Ninja schemas of the runs API: runs, submissions, logs, files, host status — with examples.

Output schemas describe `runs.selectors.run_to_dict` (the one JSON shape of a run, shared with the
CLI's `--json`). Parameter bounds come from `runs.params`, so the documented limits are the
enforced ones; the services validate again (they serve the CLI and pages too).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from ninja import Field, Schema
from pydantic import Json

from gpu.nvidia import ENHANCE_RESOLUTION_RANGE
from prompts.paging import MAX_LIMIT
from prompts.errors import InvalidInput
from prompts.schemas import (
    EXAMPLE_PROMPT_ID,
    MAX_OFFSET,
    ModelTypeName,
    Out,
    PageFields,
    PromptFieldsIn,
    PromptOut,
    Timestamp,
)
from prompts.selectors import PROMPT_ID
from runs.models import RunStatus
from runs.params import FPS_RANGE, GUIDANCE_RANGE, NUM_STEPS_RANGE, SEED_RANGE, SIGMA_MAX_RANGE, STRENGTHS
from runs.services import PRIORITY_RANGE
from runs.submit import BATCH_NAME_MAX

RunStatusName = Literal[tuple(RunStatus.values)]  # type: ignore[valid-type]
PromptId = Annotated[str, Field(pattern=PROMPT_ID.pattern, examples=[EXAMPLE_PROMPT_ID])]
Strength = Literal[STRENGTHS]  # type: ignore[valid-type]
EXAMPLE_RUN_ID = "rs_9b2e61f04c3a4d7e8f5a1c2b3d4e5f60"
MAX_BATCH = 500
MAX_LOG_CHUNK = 4 * 1024 * 1024


class RunOut(Out):
    id: str = Field(examples=[EXAMPLE_RUN_ID])
    prompt_id: str = Field(examples=[EXAMPLE_PROMPT_ID])
    owner: str = Field(examples=["alice"])
    model_type: ModelTypeName
    status: RunStatusName
    execution_config: dict[str, Any] = Field(description="The resolved parameters the run executes with")
    outputs: dict[str, Any]
    run_metadata: dict[str, Any]
    progress: dict[str, Any] = Field(examples=[{"stage": "diffusion", "step": 14, "total_steps": 35, "percent": 40}])
    error: str = Field(description="Why the run failed or was cancelled, in a sentence; empty otherwise")
    failure_reason: str = Field(
        description="Why the run failed, as a code; empty otherwise", examples=["out_of_memory"]
    )
    priority: int
    parent_id: str | None = Field(description="The inference run an upscale run upscales")
    batch_id: str
    batch_name: str
    host: str | None = Field(description="Name of the GPU host the run was given to", examples=["local-sim"])
    job: str | None = Field(description="The container job (one run, or a batch of runs) it runs in")
    created_at: Timestamp | None = Field(description="Null only in a dry run's preview")
    updated_at: Timestamp | None
    queued_at: Timestamp | None
    uploading_at: Timestamp | None
    started_at: Timestamp | None
    downloading_at: Timestamp | None
    cancel_requested_at: Timestamp | None
    completed_at: Timestamp | None
    duration_seconds: float | None


class RunFileOut(Out):
    name: str = Field(examples=["output.mp4"])
    size: int
    url: str = Field(examples=[f"/api/runs/{EXAMPLE_RUN_ID}/files/output.mp4"])


class RunDetailOut(RunOut):
    files: list[RunFileOut] = Field(description="Files in the run's output folder (download with Range support)")


class RunPageOut(PageFields):
    items: list[RunOut]


class PromptDetailOut(PromptOut):
    runs: list[RunOut] = Field(description="The prompt's runs, newest first")


class RunListQuery(Schema):
    status: RunStatusName | None = None
    prompt_id: str | None = Field(None, max_length=100, examples=[EXAMPLE_PROMPT_ID])
    model_type: ModelTypeName | None = None
    batch: str | None = Field(None, max_length=100, description="a batch's bt_ id, or a batch name", examples=["dusk_shots"])
    limit: int = Field(50, ge=1, le=MAX_LIMIT)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)


class WeightsIn(Schema):
    """Control weights, each 0..1, at least one above 0. A control left out weighs 0."""

    model_config = {"extra": "forbid"}


    vis: float = Field(0.0, ge=0, le=1)
    edge: float = Field(0.0, ge=0, le=1)
    depth: float = Field(0.0, ge=0, le=1)
    seg: float = Field(0.0, ge=0, le=1)


class InferenceParamsIn(Schema):
    """Inference parameters; any left out come from the prompt's parameters, then the defaults."""

    weights: WeightsIn | None = Field(None, examples=[{"vis": 0.3, "edge": 0.3, "depth": 0.2, "seg": 0.2}])
    num_steps: int | None = Field(None, ge=NUM_STEPS_RANGE[0], le=NUM_STEPS_RANGE[1], examples=[35])
    guidance: float | None = Field(None, ge=GUIDANCE_RANGE[0], le=GUIDANCE_RANGE[1], examples=[8.0])
    seed: int | None = Field(None, ge=SEED_RANGE[0], le=SEED_RANGE[1], examples=[1])
    sigma_max: float | None = Field(None, ge=SIGMA_MAX_RANGE[0], le=SIGMA_MAX_RANGE[1], examples=[70.0])
    blur_strength: Strength | None = None
    canny_threshold: Strength | None = None
    fps: int | None = Field(None, ge=FPS_RANGE[0], le=FPS_RANGE[1], examples=[24])
    negative_prompt: str | None = Field(None, max_length=10_000)


class RunEntryIn(InferenceParamsIn):
    """One run of a submission with parameters of its own, over the shared ones."""

    model_config = {"extra": "forbid"}

    prompt_id: PromptId


class NewPromptIn(PromptFieldsIn):
    """The prompt a create-and-run makes from a folder on the server (staff only)."""

    model_config = {"extra": "forbid"}

    video_dir: str = Field(max_length=4_096, examples=["/srv/cosmos/inputs/scene1"])


# Which prompts a submission runs: exactly one of these (the view says so in a 422 too).
TARGETS = ("prompt_id", "prompt_ids", "prompts", "prompt")


class RunSubmitIn(InferenceParamsIn):
    """Inference of one prompt, a batch, a batch with per-prompt parameters, or a new prompt."""

    prompt_id: PromptId | None = Field(None, description="One prompt")
    prompt_ids: list[PromptId] | None = Field(
        None, min_length=1, max_length=MAX_BATCH, description="Several prompts, one batch, shared parameters"
    )
    prompts: list[RunEntryIn] | None = Field(
        None,
        min_length=1,
        max_length=MAX_BATCH,
        description="A batch where each entry (one run) may carry its own weights, seed, steps...; "
        "what an entry leaves out comes from the shared parameters. The same prompt may come twice (a sweep).",
    )
    prompt: NewPromptIn | None = Field(
        None, description="Create-and-run: a new prompt from a folder on the server (staff), and its run"
    )
    batch_name: str = Field("", max_length=BATCH_NAME_MAX, examples=["urban_scenes"])
    priority: int = Field(0, ge=PRIORITY_RANGE[0], le=PRIORITY_RANGE[1], description="Higher runs first")
    dry_run: bool = Field(False, description="Return the exact specs and commands; create nothing")

    model_config = {
        "extra": "forbid",
        "json_schema_extra": {
            "oneOf": [{"required": [target]} for target in TARGETS],
            "examples": [
                {"prompt_id": EXAMPLE_PROMPT_ID, "weights": {"vis": 0.3, "edge": 0.3, "depth": 0.2, "seg": 0.2},
                 "num_steps": 35, "guidance": 8.0, "seed": 1},
                {"prompt_ids": [EXAMPLE_PROMPT_ID, "ps_0a1b2c3d4e5f60718293a4b5"], "batch_name": "urban_scenes"},
                {"prompts": [{"prompt_id": EXAMPLE_PROMPT_ID, "weights": {"vis": 0.6, "edge": 0.2}},
                             {"prompt_id": EXAMPLE_PROMPT_ID, "weights": {"depth": 0.5, "seg": 0.5}},
                             {"prompt_id": "ps_0a1b2c3d4e5f60718293a4b5", "seed": 7}],
                 "num_steps": 35, "batch_name": "weight_sweep"},
                {"prompt": {"prompt_text": "A futuristic city at night", "video_dir": "/srv/cosmos/inputs/scene1"},
                 "weights": {"vis": 0.3, "edge": 0.3}},
            ]
        }
    }

    def target(self) -> str:
        """Which of TARGETS the caller gave; InvalidInput unless exactly one."""
        given = [name for name in TARGETS if getattr(self, name) is not None]
        if len(given) != 1:
            raise InvalidInput(
                "Give exactly one of prompt_id (one prompt), prompt_ids (a batch), prompts (a batch with "
                "per-prompt parameters) or prompt (a new prompt to create and run).",
                field=given[1] if len(given) > 1 else "prompt_ids",
            )
        return given[0]

    def params(self) -> dict[str, Any]:
        """The shared inference parameters the caller set, for `runs.services.inference_submit`."""
        return self.model_dump(include=set(InferenceParamsIn.model_fields), exclude_none=True)

    def entries(self) -> list[dict[str, Any]] | None:
        """`prompts` as `{"prompt_id", **own parameters}` dicts, with only what each entry set."""
        if self.prompts is None:
            return None
        return [entry.model_dump(exclude_none=True) for entry in self.prompts]


class UploadRunForm(InferenceParamsIn):
    """Create-and-run by upload (multipart/form-data): the new prompt's text fields and the run's
    parameters as form fields, beside the video files. `weights` is JSON text."""

    model_config = {"extra": "forbid"}

    prompt_text: str = Field(max_length=100_000, examples=["A futuristic city at night with neon lights"])
    name: str = Field("", max_length=1_000, description="Empty: a smart name is chosen")
    negative_prompt: str = Field(
        "", max_length=10_000, description="The prompt's negative prompt, and so the run's; empty: NVIDIA's default"
    )
    weights: Json[WeightsIn] | None = Field(None, examples=['{"vis": 0.3, "edge": 0.3, "depth": 0.2, "seg": 0.2}'])
    batch_name: str = Field("", max_length=BATCH_NAME_MAX)
    priority: int = Field(0, ge=PRIORITY_RANGE[0], le=PRIORITY_RANGE[1])

    def params(self) -> dict[str, Any]:
        """The run's parameters the caller set (the negative prompt goes to the prompt)."""
        fields = set(InferenceParamsIn.model_fields) - {"negative_prompt"}
        return self.model_dump(include=fields, exclude_none=True)


class UpscaleIn(Schema):
    model_config = {"extra": "forbid"}
    weight: float | None = Field(None, ge=0, le=1, description="Control weight; default 0.5", examples=[0.5])
    priority: int = Field(0, ge=PRIORITY_RANGE[0], le=PRIORITY_RANGE[1])
    dry_run: bool = False


class EnhanceIn(Schema):
    model_config = {"extra": "forbid"}
    create_new: bool = Field(
        True, description="True: the enhanced text becomes a new prompt; False: it overwrites this one "
        "(refused when the prompt already has runs)"
    )
    resolution: int | None = Field(
        None, ge=ENHANCE_RESOLUTION_RANGE[0], le=ENHANCE_RESOLUTION_RANGE[1],
        description="scale the video's shorter side down to this many pixels first (e.g. 480)",
    )
    priority: int = Field(0, ge=PRIORITY_RANGE[0], le=PRIORITY_RANGE[1])
    dry_run: bool = False


class SubmissionOut(Out):
    dry_run: bool
    replayed: bool = Field(False, description="True when an Idempotency-Key matched an earlier request")
    batch_id: str
    batch_name: str
    runs: list[RunOut] = Field(description="The runs created (for a dry run: what would be created)")
    prompt: PromptOut | None = Field(
        None, description="Create-and-run only: the prompt made (or the identical one that already existed)"
    )
    plan: list[dict[str, Any]] = Field(description="Dry run only: the specs, JSONL and commands it would send")


class LogChunkOut(Out):
    lines: list[str] = Field(examples=[["[09-08 01:15:45|INFO|transfer.py:187:parse_arguments] final args: {...}"]])
    offset: int = Field(description="The offset these lines start at")
    next_offset: int = Field(description="Ask again with this offset for the lines that follow")
    status: RunStatusName
    finished: bool = Field(description="True when the run has ended: no more lines will come after the end")


class OperationOut(Out):
    """A run on a host. Another user's run shows only as a label (`run_id` null)."""

    run_id: str | None = Field(examples=[EXAMPLE_RUN_ID])
    label: str | None = Field(None, examples=["another user's run"])
    model_type: ModelTypeName | None = None
    prompt_id: str | None = None
    prompt_name: str | None = None
    status: RunStatusName
    job: str | None = None
    progress: dict[str, Any] | None = None


class GPUOut(Out):
    """One GPU as nvidia-smi reports it (the simulator's are named "... (cosmos-sim)")."""

    index: int
    name: str = Field(examples=["NVIDIA H100 80GB HBM3"])
    memory_total_mb: int | None
    memory_used_mb: int | None
    utilization_pct: int | None
    temperature_c: int | None
    driver_version: str
    cuda_version: str


class ContainerOut(Out):
    id: str
    name: str = Field(examples=["cosmos-rs_9b2e61f04c3a4d7e8f5a1c2b3d4e5f60"])
    image: str
    status: str = Field(examples=["Up 5 minutes"])
    state: str = Field(examples=["running"])
    created: str
    labels: dict[str, str]


class HostStatusOut(Out):
    host: str = Field(examples=["local-sim"])
    address: str = Field(examples=["cosmos@gpu1.example.com:22"])
    simulated: bool = Field(description="True for the built-in simulator, which is not a GPU")
    enabled: bool
    slots: int
    gpus: list[GPUOut]
    containers: list[ContainerOut] = Field(description="Cosmos containers on the host")
    error: str = Field(description="Why the host could not be reached; empty when it answered")
    checked_at: Timestamp | None = Field(
        description="When the host gave the GPUs, containers and error shown (answers are reused for a few "
        "seconds); null while it has not answered yet"
    )
    checking: bool = Field(
        description="The host is being asked right now (it did not answer within a second): a newer answer is "
        "coming, poll again"
    )
    operations: list[OperationOut]
    queued_jobs: int = Field(description="Jobs given to this host waiting for a free GPU slot")
    pending_runs: int = Field(description="Runs not yet given to any host")


class StatusOut(Out):
    hosts: list[HostStatusOut]


class KillOut(Out):
    host: str
    killed: list[str] = Field(description="Names of the containers killed")
    cancelled_runs: list[str]


class FindingOut(Out):
    kind: Literal["missing_output", "checksum_mismatch", "orphan_folder", "missing_input", "orphan_input"]
    subject: str = Field(description="Run id, prompt id or path")
    detail: str
    fixed: str = Field(description="What `fix` did about it; empty when nothing")


class VerifyOut(Out):
    ok: bool
    fixed: bool
    checked_runs: int
    checked_prompts: int
    findings: list[FindingOut]
