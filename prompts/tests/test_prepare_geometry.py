"""Choosing the accepted resolution and fitting frames to it by padding or cropping."""

from __future__ import annotations

import pytest

from prompts.prepare.geometry import ACCEPTED_RESOLUTIONS, Fit, nearest_resolution, plan_fit


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ((1280, 704), (1280, 704)),
        ((1920, 1080), (1280, 704)),
        ((3840, 2160), (1280, 704)),
        ((1080, 1920), (704, 1280)),
        ((1024, 1024), (960, 960)),
        ((1440, 1080), (960, 704)),
        ((1080, 1440), (704, 960)),
        ((640, 480), (960, 704)),
    ],
)
def test_the_nearest_accepted_resolution_keeps_the_aspect_closest(source, expected):
    assert nearest_resolution(*source) == expected


def test_every_accepted_resolution_is_its_own_nearest():
    for size in ACCEPTED_RESOLUTIONS:
        assert nearest_resolution(*size) == size
        assert plan_fit(size, Fit.PAD).identity


def test_pad_scales_the_whole_frame_inside_and_centres_it():
    plan = plan_fit((1920, 1080), Fit.PAD)
    assert plan.target == (1280, 704)
    assert plan.crop == (0, 0, 1920, 1080) and not plan.cropped
    assert plan.scaled == (1252, 704) and plan.padded
    assert plan.offset == (14, 0)


def test_crop_fills_the_frame_and_cuts_the_overflow_evenly():
    plan = plan_fit((1920, 1080), Fit.CROP)
    assert plan.scaled == (1280, 704) and not plan.padded
    assert plan.crop == (0, 12, 1920, 1068) and plan.cropped
