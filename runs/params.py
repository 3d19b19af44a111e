"""Run parameters: validate what a user asked for and resolve it against the defaults.

The resolved dict is stored on the run (`Run.execution_config`) so a run says exactly what it
ran with, and `retry` can repeat it. Resolution order: settings defaults, then the prompt's own
`parameters`, then what the caller passed. Every check raises `InvalidInput` naming the field
and what to fix, before anything is written.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any

from django.conf import settings

from prompts.errors import InvalidInput

CONTROL_KEYS = ("vis", "edge", "depth", "seg")
# Prompt input video that feeds each control when present (others are computed by the model).
CONTROL_INPUTS = {"depth": "depth", "seg": "segmentation"}
STRENGTHS = ("very_low", "low", "medium", "high", "very_high")
DEFAULT_WEIGHTS = {"vis": 0.25, "edge": 0.25, "depth": 0.25, "seg": 0.25}

NUM_STEPS_RANGE = (1, 200)
GUIDANCE_RANGE = (0.0, 30.0)
SIGMA_MAX_RANGE = (0.0, 80.0)
FPS_RANGE = (1, 120)
SEED_RANGE = (0, 2**31 - 1)
UPSCALE_NUM_STEPS = 10

# The parameters that must be equal for transfer runs to share one batch (one model load):
# everything that is a command-line flag or base-spec value rather than a per-line override.
BATCH_GLOBAL_KEYS = (
    "num_steps",
    "guidance",
    "seed",
    "sigma_max",
    "blur_strength",
    "canny_threshold",
    "fps",
    "negative_prompt",
)

INFERENCE_KEYS = frozenset({"weights", *BATCH_GLOBAL_KEYS})


def inference_params_resolve(params: Mapping[str, Any] | None, *, prompt) -> dict[str, Any]:
    """Return the full, validated parameter set for a transfer run of `prompt`."""
    params = dict(params or {})
    unknown = sorted(set(params) - INFERENCE_KEYS)
    if unknown:
        raise InvalidInput(
            f"Unknown parameter {unknown[0]!r}; allowed: {', '.join(sorted(INFERENCE_KEYS))}.", field=unknown[0]
        )
    cosmos = settings.COSMOS
    layered: dict[str, Any] = {
        "weights": dict(DEFAULT_WEIGHTS),
        "num_steps": cosmos["DEFAULT_NUM_STEPS"],
        "guidance": cosmos["DEFAULT_GUIDANCE"],
        "seed": 1,
        "sigma_max": 70.0,
        "blur_strength": "medium",
        "canny_threshold": "medium",
        "fps": cosmos["DEFAULT_FPS"],
        "negative_prompt": prompt.negative_prompt,
    }
    for source in (prompt.parameters or {}, params):
        for key, value in source.items():
            if key in INFERENCE_KEYS and value is not None:
                layered[key] = value
    return {
        "weights": weights_validate(layered["weights"]),
        "num_steps": _int(layered["num_steps"], "num_steps", NUM_STEPS_RANGE),
        "guidance": _float(layered["guidance"], "guidance", GUIDANCE_RANGE),
        "seed": _int(layered["seed"], "seed", SEED_RANGE),
        "sigma_max": _float(layered["sigma_max"], "sigma_max", SIGMA_MAX_RANGE),
        "blur_strength": _choice(layered["blur_strength"], "blur_strength"),
        "canny_threshold": _choice(layered["canny_threshold"], "canny_threshold"),
        "fps": _int(layered["fps"], "fps", FPS_RANGE),
        "negative_prompt": _text(layered["negative_prompt"], "negative_prompt"),
    }


def weights_validate(weights: Any) -> dict[str, float]:
    """Weights as {vis, edge, depth, seg}, each 0..1 and at least one above 0.

    Accepts a mapping (missing keys are 0) or a sequence of four numbers in that order, the
    seed CLI's `--weights V E D S`.
    """
    if isinstance(weights, Mapping):
        unknown = sorted(set(weights) - set(CONTROL_KEYS))
        if unknown:
            raise InvalidInput(
                f"Unknown control {unknown[0]!r}; controls are {', '.join(CONTROL_KEYS)}.", field="weights"
            )
        raw = {key: weights.get(key, 0) for key in CONTROL_KEYS}
    elif isinstance(weights, (list, tuple)):
        if len(weights) != len(CONTROL_KEYS):
            raise InvalidInput(
                f"Give four weights (vis edge depth seg), not {len(weights)}.", field="weights"
            )
        raw = dict(zip(CONTROL_KEYS, weights))
    else:
        raise InvalidInput("Weights must be four numbers: vis edge depth seg.", field="weights")
    resolved = {key: _float(value, f"weight {key}", (0.0, 1.0), field="weights") for key, value in raw.items()}
    if not any(value > 0 for value in resolved.values()):
        raise InvalidInput("At least one control weight must be above 0.", field="weights")
    return resolved


def upscale_weight_validate(weight: Any) -> float:
    if weight is None:
        return float(settings.COSMOS["DEFAULT_UPSCALE_WEIGHT"])
    return _float(weight, "weight", (0.0, 1.0))


def batch_key(*, owner_id: int, model_type: str, config: Mapping[str, Any]) -> str:
    """Runs with equal keys may share one container. Owner is part of it: a batch's log holds
    every prompt of the batch, and one user's log must never show another user's prompt."""
    values = [owner_id, model_type, *(config.get(key) for key in BATCH_GLOBAL_KEYS)]
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()


def _number(value: Any, name: str, field: str):
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise InvalidInput(f"{name} must be a number (got {value!r}).", field=field)
    try:
        number = float(value)
    except ValueError:
        raise InvalidInput(f"{name} must be a number (got {value!r}).", field=field) from None
    if not math.isfinite(number):
        raise InvalidInput(f"{name} must be a finite number (got {value!r}).", field=field)
    return number


def _float(value: Any, name: str, bounds: tuple[float, float], *, field: str | None = None) -> float:
    number = _number(value, name, field or name)
    low, high = bounds
    if not low <= number <= high:
        raise InvalidInput(f"{name} must be from {low:g} to {high:g} (got {number:g}).", field=field or name)
    return number


def _int(value: Any, name: str, bounds: tuple[int, int]) -> int:
    number = _number(value, name, name)
    if number != int(number):
        raise InvalidInput(f"{name} must be a whole number (got {value!r}).", field=name)
    low, high = bounds
    if not low <= number <= high:
        raise InvalidInput(f"{name} must be a whole number from {low} to {high} (got {int(number)}).", field=name)
    return int(number)


def _choice(value: Any, name: str) -> str:
    if value not in STRENGTHS:
        raise InvalidInput(f"{name} must be one of {', '.join(STRENGTHS)} (got {value!r}).", field=name)
    return value


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be text.", field=name)
    if len(value) > 10_000:
        raise InvalidInput(f"{name} is longer than 10,000 characters.", field=name)
    return value.replace("\x00", "")
