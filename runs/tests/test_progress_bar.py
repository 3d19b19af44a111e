"""The progress bar's percentage: stages in order, the sampling loop fills most of the bar."""

from __future__ import annotations

import pytest

from runs.progress_bar import overall_percent


@pytest.mark.parametrize(
    ("progress", "percent"),
    [
        ({}, 0),
        ({"stage": "args"}, 1),
        ({"stage": "loading_model"}, 3),
        ({"stage": "diffusion", "step": 0, "steps": 35}, 25),
        ({"stage": "diffusion", "step": 14, "steps": 35}, 51),
        ({"stage": "diffusion", "step": 35, "steps": 35}, 90),
        ({"stage": "generation", "clip": 1, "clips": 2, "percent": 50}, 57),
        ({"stage": "vae_decode"}, 90),
        ({"stage": "saved"}, 100),
        ({"stage": "diffusion", "step": "x", "steps": 0}, 25),
        ({"stage": "something new"}, 0),
    ],
)
def test_overall_percent(progress, percent):
    assert overall_percent(progress) == percent


def test_the_bar_never_goes_back_through_the_stages_of_a_run():
    sequence = [{"stage": "args"}, {"stage": "loading_model"}, {"stage": "preprocessing"}, {"stage": "text_encoding"},
                {"stage": "generation", "clip": 0, "clips": 1}, {"stage": "diffusion"},
                *({"stage": "diffusion", "step": i, "steps": 10} for i in range(11)),
                {"stage": "vae_decode"}, {"stage": "generation", "clip": 1, "clips": 1}, {"stage": "guardrail"},
                {"stage": "saved"}]
    percents = [overall_percent(p) for p in sequence]
    assert percents == sorted(percents) and percents[-1] == 100
