"""What a job sends to its host: the spec / batch JSONL / upsampler input, and the inputs to upload.

One function, `job_payload`, builds it from the job's runs, for the pipeline and for a dry run
alike, so a dry run shows exactly what would be sent. Inputs are named by content in the
host's cache (`cache/<sha256>.mp4`); the NVIDIA formats themselves come from `gpu.nvidia`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings

from gpu import nvidia
from gpu.executor import DockerExecutor
from prompts.models import ModelType
from prompts.selectors import prompt_input_paths
from runs.models import Job, Run
from runs.outputs import BATCH_JSONL, BATCH_SPEC, SPEC_NAME, batch_dir, file_sha256, write_json, write_text
from runs.params import CONTROL_INPUTS
from runs.selectors import run_output_dir


@dataclass
class Payload:
    """`kind`: inference | batch | upscale | enhance; `body`: the keyword arguments of the
    executor's start call for that kind; `uploads`: sha256 -> local file."""

    kind: str
    body: dict[str, Any]
    uploads: dict[str, Path] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **self.body, "uploads": {sha: str(path) for sha, path in self.uploads.items()}}


def job_payload(job: Job, runs: list[Run]) -> Payload:
    kind = job.kind
    if kind == ModelType.UPSCALE:
        return _upscale(runs[0])
    if kind == ModelType.ENHANCE:
        return _enhance(runs)
    if len(runs) == 1 and not job.folder:
        return _inference(runs[0])
    return _batch(runs)


def cache_path(sha256: str) -> str:
    """Where an input video lives on the host, relative to its work dir."""
    return DockerExecutor.cache_path(sha256, "mp4")


def _inference(run: Run) -> Payload:
    uploads: dict[str, Path] = {}
    config = run.execution_config
    spec = nvidia.inference_spec(
        **_item(run, uploads),
        negative_prompt=config["negative_prompt"],
        seed=config["seed"],
        num_steps=config["num_steps"],
        guidance=config["guidance"],
        sigma_max=config["sigma_max"],
        fps=config["fps"],
        blur_strength=config["blur_strength"],
        canny_threshold=config["canny_threshold"],
    )
    return Payload("inference", {"spec": spec}, uploads)


def _batch(runs: list[Run]) -> Payload:
    """One container for compatible runs: their global parameters are equal (runs/params.py:
    batch_key), so the first run's are the batch's; weights and inputs go per line."""
    uploads: dict[str, Path] = {}
    items = [_item(run, uploads) for run in runs]
    config = runs[0].execution_config
    base_spec = nvidia.batch_base_spec(
        items,
        negative_prompt=config["negative_prompt"],
        seed=config["seed"],
        num_steps=config["num_steps"],
        guidance=config["guidance"],
        sigma_max=config["sigma_max"],
    )
    # fps, blur and canny are flags of one run; in a batch, plain keys of the base spec set them.
    base_spec.update({key: config[key] for key in ("fps", "blur_strength", "canny_threshold")})
    return Payload("batch", {"base_spec": base_spec, "lines": nvidia.batch_jsonl(items)}, uploads)


def _item(run: Run, uploads: dict[str, Path]) -> dict[str, Any]:
    """A run's own part of a spec: text, input video, weights and the control videos it has."""
    paths = prompt_input_paths(run.prompt)
    inputs = run.prompt.inputs

    def remote(role: str) -> str:
        uploads[inputs[role]["sha256"]] = paths[role]
        return cache_path(inputs[role]["sha256"])

    weights = run.execution_config["weights"]
    control_inputs = {
        key: remote(role) for key, role in CONTROL_INPUTS.items() if weights.get(key, 0) > 0 and role in inputs
    }
    return {
        "prompt": run.prompt.prompt_text,
        "input_video": remote("color"),
        "weights": weights,
        "control_inputs": control_inputs,
    }


def _upscale(run: Run) -> Payload:
    source = run_output_dir(run.parent) / "output.mp4"
    sha = run.execution_config.get("input_sha256") or file_sha256(source)
    spec = nvidia.upscale_spec(
        input_video=cache_path(sha), weight=run.execution_config["control_weight"], prompt=run.prompt.prompt_text
    )
    return Payload("upscale", {"spec": spec}, {sha: source})


def _enhance(runs: list[Run]) -> Payload:
    uploads: dict[str, Path] = {}
    wanted = []
    for run in runs:
        sha = run.prompt.inputs["color"]["sha256"]
        uploads[sha] = prompt_input_paths(run.prompt)["color"]
        wanted.append({"name": run.id, "prompt": run.prompt.prompt_text, "video_path": cache_path(sha),
                       "resolution": run.execution_config.get("resolution")})
    return Payload("enhance", {"items": nvidia.enhance_input(wanted)}, uploads)


def container_start(executor, job: Job, payload: Payload) -> None:
    """Start the job's detached container for its kind, on the GPUs recorded on the job."""
    starts = {
        "inference": executor.inference_start,
        "batch": executor.batch_start,
        "upscale": executor.upscale_start,
        "enhance": executor.enhance_start,
    }
    starts[payload.kind](job.name, gpus=job.gpus or None, **payload.body)


def payload_files_write(job: Job, runs: list[Run], payload: Payload) -> None:
    """Keep what was sent beside the outputs: spec.json per run; a batch's spec and JSONL."""
    if payload.kind == "batch":
        folder = batch_dir(job)
        write_json(folder / BATCH_SPEC, payload.body["base_spec"])
        write_text(folder / BATCH_JSONL, payload.body["lines"])
        for index, (run, line) in enumerate(zip(runs, payload.body["lines"].splitlines())):
            spec = {"batch": job.folder, "line": index, "base_spec": payload.body["base_spec"], "item": json.loads(line)}
            write_json(run_output_dir(run) / SPEC_NAME, spec)
        return
    for run in runs:
        body = payload.body if payload.kind != "enhance" else {"item": payload.body["items"][runs.index(run)]}
        write_json(run_output_dir(run) / SPEC_NAME, body)


def dry_run_plan(runs: list[Run]) -> list[dict[str, Any]]:
    """The jobs these unsaved runs would become, as the dispatcher would group them."""
    groups: dict[str, list[Run]] = {}
    for run in runs:
        groups.setdefault(run.batch_key or run.id, []).append(run)
    plan = []
    limit = settings.COSMOS["BATCH_MAX_RUNS"]
    for members in groups.values():
        for start in range(0, len(members), limit):
            chunk = members[start : start + limit]
            job = Job(name=chunk[0].id if len(chunk) == 1 else "batch", kind=chunk[0].model_type, folder="" if len(chunk) == 1 else "batch")
            plan.append({"runs": [run.id for run in chunk], **job_payload(job, chunk).to_dict()})
    return plan
