"""Parameter resolution: defaults, prompt parameters, caller overrides, and every bad input."""

import pytest

from prompts.errors import InvalidInput
from prompts.models import Prompt
from runs.params import batch_key, inference_params_resolve, upscale_weight_validate, weights_validate


def prompt(**fields):
    return Prompt(negative_prompt=fields.pop("negative_prompt", "blurry"), parameters=fields.pop("parameters", {}))


def test_defaults_come_from_settings_and_the_prompt(settings):
    settings.COSMOS = {**settings.COSMOS, "DEFAULT_NUM_STEPS": 35, "DEFAULT_GUIDANCE": 8.0}
    resolved = inference_params_resolve(None, prompt=prompt())
    assert resolved["num_steps"] == 35
    assert resolved["guidance"] == 8.0
    assert resolved["sigma_max"] == 70.0
    assert resolved["fps"] == 24
    assert resolved["negative_prompt"] == "blurry"
    assert resolved["weights"] == {"vis": 0.25, "edge": 0.25, "depth": 0.25, "seg": 0.25}


def test_caller_beats_prompt_parameters_which_beat_defaults():
    resolved = inference_params_resolve({"num_steps": 20}, prompt=prompt(parameters={"num_steps": 50, "seed": 7}))
    assert resolved["num_steps"] == 20
    assert resolved["seed"] == 7


def test_weights_from_four_numbers_in_seed_cli_order():
    assert weights_validate([0.3, 0.3, 0.2, 0.2]) == {"vis": 0.3, "edge": 0.3, "depth": 0.2, "seg": 0.2}


def test_weights_from_a_mapping_default_missing_controls_to_zero():
    assert weights_validate({"edge": 1}) == {"vis": 0.0, "edge": 1.0, "depth": 0.0, "seg": 0.0}


@pytest.mark.parametrize(
    "weights, words",
    [
        ([0, 0, 0, 0], "At least one control weight"),
        ([1.5, 0, 0, 0], "from 0 to 1"),
        ([-0.1, 0.5, 0, 0], "from 0 to 1"),
        ([0.5, 0.5], "four weights"),
        ({"vis": 0.5, "keypoint": 0.5}, "Unknown control 'keypoint'"),
        (["a", 0, 0, 0], "must be a number"),
        ([float("nan"), 1, 0, 0], "finite"),
    ],
)
def test_bad_weights_say_what_to_fix(weights, words):
    with pytest.raises(InvalidInput) as error:
        weights_validate(weights)
    assert words in error.value.message
    assert error.value.field == "weights"


@pytest.mark.parametrize(
    "params, field, words",
    [
        ({"num_steps": 0}, "num_steps", "from 1 to 200"),
        ({"num_steps": 201}, "num_steps", "from 1 to 200"),
        ({"num_steps": 3.5}, "num_steps", "whole number"),
        ({"guidance": 99}, "guidance", "from 0 to 30"),
        ({"sigma_max": 81}, "sigma_max", "from 0 to 80"),
        ({"fps": 0}, "fps", "from 1 to 120"),
        ({"seed": -1}, "seed", "from 0 to"),
        ({"canny_threshold": "extreme"}, "canny_threshold", "very_low, low, medium, high, very_high"),
        ({"blur_strength": None or 3}, "blur_strength", "one of"),
        ({"negative_prompt": 5}, "negative_prompt", "must be text"),
        ({"colour": 1}, "colour", "Unknown parameter"),
        ({"num_steps": True}, "num_steps", "must be a number"),
    ],
)
def test_bad_parameters_name_the_field(params, field, words):
    with pytest.raises(InvalidInput) as error:
        inference_params_resolve(params, prompt=prompt())
    assert error.value.field == field
    assert words in error.value.message


def test_upscale_weight_defaults_and_range(settings):
    assert upscale_weight_validate(None) == settings.COSMOS["DEFAULT_UPSCALE_WEIGHT"]
    assert upscale_weight_validate(0.7) == 0.7
    with pytest.raises(InvalidInput):
        upscale_weight_validate(1.2)


def test_batch_key_differs_by_owner_and_by_global_parameters_but_not_by_weights():
    base = inference_params_resolve(None, prompt=prompt())
    other_weights = {**base, "weights": {"vis": 1.0, "edge": 0.0, "depth": 0.0, "seg": 0.0}}
    more_steps = {**base, "num_steps": 50}
    key = batch_key(owner_id=1, model_type="transfer", config=base)
    assert key == batch_key(owner_id=1, model_type="transfer", config=other_weights)
    assert key != batch_key(owner_id=2, model_type="transfer", config=base)
    assert key != batch_key(owner_id=1, model_type="transfer", config=more_steps)
