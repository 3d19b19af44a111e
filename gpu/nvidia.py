"""NVIDIA Cosmos Transfer input formats, as pure functions: spec JSON, batch JSONL, upscale spec,
prompt-upsampler batch input (see shared/reference/cosmos-transfer1.md).

Rules kept everywhere: only controls with weight > 0 are sent; the negative prompt is given by
the caller (the product's default lives with prompts); every path is a relative POSIX path
inside the host's work dir (the container's /workspace), Windows separators converted. Bad
values raise `SpecInvalid` naming the field.
"""

from __future__ import annotations

import json
import math
import posixpath
import re
from collections.abc import Mapping, Sequence
from typing import Any

from gpu.errors import SpecInvalid

CONTROL_KEYS = ("vis", "edge", "depth", "seg", "keypoint", "upscale", "hdmap", "lidar")
TRANSFER_CONTROLS = tuple(key for key in CONTROL_KEYS if key != "upscale")
# Controls the pipeline can compute from the input video when no input_control is given;
# batch overrides name their input_control (null = compute) for the others too.
COMPUTED_CONTROLS = ("vis", "edge")
_DRIVE = re.compile(r"^[A-Za-z]:/")


def work_path(path: str, *, field: str) -> str:
    """A path as the container sees it inside /workspace: relative, POSIX, normalized, no "..".

    "runs\\rs_x\\color.mp4" -> "runs/rs_x/color.mp4"; "/workspace/cache/a.mp4" -> "cache/a.mp4".
    """
    if not isinstance(path, str) or not path.strip():
        raise SpecInvalid(f"{field}: a path is required.", field=field)
    posix = path.strip().replace("\\", "/")
    if posix.startswith("/workspace/"):
        posix = posix[len("/workspace/"):]
    if posix.startswith("/") or _DRIVE.match(posix):
        raise SpecInvalid(
            f"{field}: {path!r} is absolute; give a path relative to the host's work dir (e.g. cache/<sha256>.mp4).",
            field=field,
        )
    normal = posixpath.normpath(posix)
    if normal == "." or normal.startswith("../") or normal == "..":
        raise SpecInvalid(f"{field}: {path!r} leaves the host's work dir.", field=field)
    return normal


def _number(value: Any, *, field: str, low: float, high: float, integer: bool = False) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SpecInvalid(f"{field}: {value!r} is not a number.", field=field)
    if integer and int(value) != value:
        raise SpecInvalid(f"{field}: {value!r} must be a whole number.", field=field)
    if not low <= value <= high:
        raise SpecInvalid(f"{field}: {value!r} must be between {low:g} and {high:g}.", field=field)
    return int(value) if integer else float(value)


def _text(value: Any, *, field: str, required: bool = True) -> str:
    if not isinstance(value, str) or (required and not value.strip()):
        raise SpecInvalid(f"{field}: text is required.", field=field)
    return value


def _weights(weights: Mapping[str, Any], *, allowed: Sequence[str]) -> dict[str, float]:
    """The controls to send: known keys, valid numbers, only those above 0, in canonical order."""
    if not isinstance(weights, Mapping):
        raise SpecInvalid("weights: a mapping of control name to weight is required.", field="weights")
    unknown = sorted(set(weights) - set(allowed))
    if unknown:
        raise SpecInvalid(f"weights: unknown control {', '.join(unknown)}; use {', '.join(allowed)}.", field="weights")
    checked = {key: _number(weights[key], field=f"weights.{key}", low=0, high=10) for key in allowed if key in weights}
    return {key: weight for key, weight in checked.items() if weight > 0}


def _control_paths(inputs: Mapping[str, str | None] | None, *, field: str) -> dict[str, str]:
    """{control: path} of the controls given as videos (empty paths mean "compute it")."""
    inputs = inputs or {}
    if not isinstance(inputs, Mapping):
        raise SpecInvalid(f"{field}: a mapping of control name to path is required.", field=field)
    unknown = sorted(set(inputs) - set(TRANSFER_CONTROLS))
    if unknown:
        raise SpecInvalid(f"{field}: unknown control {', '.join(unknown)}.", field=field)
    return {key: work_path(path, field=f"{field}.{key}") for key, path in inputs.items() if path}


def _sampling(*, seed: Any, num_steps: Any, guidance: Any, sigma_max: Any) -> dict[str, Any]:
    sigma = _number(sigma_max, field="sigma_max", low=0, high=80)
    return {
        "sigma_max": int(sigma) if sigma == int(sigma) else sigma,  # 70, as the reference writes it
        "seed": _number(seed, field="seed", low=0, high=2**32 - 1, integer=True),
        "num_steps": _number(num_steps, field="num_steps", low=1, high=1000, integer=True),
        "guidance": _number(guidance, field="guidance", low=0, high=30),
    }


def _options(*, fps: Any, blur_strength: str | None, canny_threshold: str | None) -> dict[str, Any]:
    levels = ("very_low", "low", "medium", "high", "very_high")
    options: dict[str, Any] = {}
    if fps is not None:
        options["fps"] = _number(fps, field="fps", low=1, high=240, integer=True)
    for name, value in (("blur_strength", blur_strength), ("canny_threshold", canny_threshold)):
        if value is not None:
            if value not in levels:
                raise SpecInvalid(f"{name}: {value!r} is not one of {', '.join(levels)}.", field=name)
            options[name] = value
    return options


def inference_spec(
    *,
    prompt: str,
    negative_prompt: str,
    input_video: str | None,
    weights: Mapping[str, float],
    control_inputs: Mapping[str, str] | None = None,
    seed: int = 1,
    num_steps: int = 35,
    guidance: float = 5.0,
    sigma_max: float = 70,
    fps: int | None = None,
    blur_strength: str | None = None,
    canny_threshold: str | None = None,
) -> dict[str, Any]:
    """The `--controlnet_specs` JSON of one run.

    `weights`: {control: weight}, controls with weight 0 are left out. `control_inputs`:
    {control: path} for controls given as videos (others are computed from the input video and
    written as `<control>_input_control_0.mp4`).
    """
    spec: dict[str, Any] = {
        "prompt": _text(prompt, field="prompt"),
        "negative_prompt": _text(negative_prompt, field="negative_prompt", required=False),
    }
    sampling = _sampling(seed=seed, num_steps=num_steps, guidance=guidance, sigma_max=sigma_max)
    if input_video:
        spec["input_video_path"] = work_path(input_video, field="input_video")
    elif sampling["sigma_max"] < 80:
        raise SpecInvalid("input_video: required when sigma_max is below 80.", field="input_video")
    spec.update(sampling)
    spec.update(_options(fps=fps, blur_strength=blur_strength, canny_threshold=canny_threshold))
    controls = _weights(weights, allowed=TRANSFER_CONTROLS)
    if not controls:
        raise SpecInvalid("weights: at least one control needs a weight above 0.", field="weights")
    inputs = _control_paths(control_inputs, field="control_inputs")
    for key, weight in controls.items():
        spec[key] = {"control_weight": weight}
        if key in inputs:
            spec[key]["input_control"] = inputs[key]
    return spec


def _batch_lines(items: Sequence[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """Each item's line and the base controls: every control any line uses, at its largest weight."""
    if not items:
        raise SpecInvalid("batch: at least one item is required.", field="items")
    parsed = []
    for number, item in enumerate(items):
        field = f"items[{number}]"
        weights = _weights(item.get("weights") or {}, allowed=TRANSFER_CONTROLS)
        if not weights:
            raise SpecInvalid(f"{field}.weights: at least one control needs a weight above 0.", field=f"{field}.weights")
        parsed.append({
            "visual_input": work_path(item.get("input_video") or "", field=f"{field}.input_video"),
            "prompt": _text(item.get("prompt"), field=f"{field}.prompt"),
            "weights": weights,
            "inputs": _control_paths(item.get("control_inputs"), field=f"{field}.control_inputs"),
        })
    base: dict[str, float] = {}
    for key in TRANSFER_CONTROLS:
        used = [p["weights"][key] for p in parsed if key in p["weights"]]
        if used:
            base[key] = max(used)
    lines = []
    for p in parsed:
        overrides = {}
        for key in base:
            if key not in p["weights"]:
                # The base enables this control for every line; weight 0 switches it off here.
                overrides[key] = {"control_weight": 0.0}
                continue
            override: dict[str, Any] = {}
            if key in p["inputs"] or key not in COMPUTED_CONTROLS:
                override["input_control"] = p["inputs"].get(key)
            override["control_weight"] = p["weights"][key]
            overrides[key] = override
        lines.append({"visual_input": p["visual_input"], "prompt": p["prompt"], "control_overrides": overrides})
    return lines, base


def batch_jsonl(items: Sequence[Mapping[str, Any]]) -> str:
    """The `--batch_input_path` JSONL: one line per item, N-th line -> outputs/video_<N>/.

    Each item: {"prompt", "input_video", "weights": {control: weight},
    "control_inputs": {control: path}} (control_inputs optional).
    """
    lines, _ = _batch_lines(items)
    return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)


def batch_base_spec(
    items: Sequence[Mapping[str, Any]],
    *,
    negative_prompt: str,
    seed: int = 1,
    num_steps: int = 35,
    guidance: float = 5.0,
    sigma_max: float = 70,
) -> dict[str, Any]:
    """The base `--controlnet_specs` for a batch: the shared sampling settings and every control
    any line uses (the transfer script ignores overrides of controls missing from the base)."""
    _, base = _batch_lines(items)
    spec: dict[str, Any] = {"negative_prompt": _text(negative_prompt, field="negative_prompt", required=False)}
    spec.update(_sampling(seed=seed, num_steps=num_steps, guidance=guidance, sigma_max=sigma_max))
    for key, weight in base.items():
        spec[key] = {"control_weight": weight}
    return spec


def upscale_spec(*, input_video: str, weight: float = 0.5, prompt: str | None = None) -> dict[str, Any]:
    """The 4K upscaler's spec over a finished output (run with --num_steps 10)."""
    spec: dict[str, Any] = {}
    if prompt:
        spec["prompt"] = _text(prompt, field="prompt")
    spec["input_video_path"] = work_path(input_video, field="input_video")
    weight = _number(weight, field="weight", low=0, high=1)
    if weight <= 0:
        raise SpecInvalid("weight: the upscale control weight must be above 0.", field="weight")
    spec["upscale"] = {"control_weight": weight}
    return spec


# The shorter side a video may be scaled down to before the upsampler looks at it (the seed's
# `--resolution`, e.g. 480): less to decode and less GPU memory for the vision encoder.
ENHANCE_RESOLUTION_RANGE = (64, 4096)


def enhance_input(items: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The prompt upsampler's batch input: [{"name", "prompt", "video_path"}], names unique; an
    item may add "resolution" (the video's shorter side is scaled down to it first)."""
    if not items:
        raise SpecInvalid("enhance: at least one item is required.", field="items")
    out, seen = [], set()
    for number, item in enumerate(items):
        field = f"items[{number}]"
        name = _text(item.get("name"), field=f"{field}.name")
        if name in seen:
            raise SpecInvalid(f"{field}.name: {name!r} appears twice; names must be unique.", field=f"{field}.name")
        seen.add(name)
        entry = {
            "name": name,
            "prompt": _text(item.get("prompt"), field=f"{field}.prompt"),
            "video_path": work_path(item.get("video_path") or "", field=f"{field}.video_path"),
        }
        if item.get("resolution") is not None:
            low, high = ENHANCE_RESOLUTION_RANGE
            entry["resolution"] = _number(item["resolution"], field=f"{field}.resolution", low=low, high=high, integer=True)
        out.append(entry)
    return out


def parse_batch_results(text: str) -> list[dict[str, Any]]:
    """`batch_results.json` of an enhance job, checked: each item has name and success (and the
    upsampled prompt when it succeeded, the error when not)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecInvalid(f"batch_results.json is not JSON: {exc}") from None
    if not isinstance(data, list):
        raise SpecInvalid("batch_results.json must hold a list.")
    for entry in data:
        if not isinstance(entry, dict) or "name" not in entry or "success" not in entry:
            raise SpecInvalid("batch_results.json: every item needs name and success.")
        if entry["success"] and not isinstance(entry.get("upsampled_prompt"), str):
            raise SpecInvalid(f"batch_results.json: {entry['name']} succeeded without an upsampled_prompt.")
    return data
