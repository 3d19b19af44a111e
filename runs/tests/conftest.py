"""Fixtures of the runs tests: a small real scene (color/depth/segmentation mp4s) and prompts made
from it through the prompts service, the way users make them; plus the shared ones of prompts.testing."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from prompts.samples import write_scene
from prompts.services import prompt_create
from prompts.testing import (  # noqa: F401  (fixtures)
    fast_password_hashing,
    isolated_storage,
    scene_copy,
    scene_dir,
)

# Tiny clips: the simulator copies frames from its inputs, so small inputs keep runs fast.
SCENE_FRAMES, SCENE_WIDTH, SCENE_HEIGHT = 8, 64, 48


@pytest.fixture(scope="session")
def scene() -> Path:
    folder = Path(settings.DATA_DIR) / "test-scenes" / "scene1"
    if not (folder / "color.mp4").exists():
        write_scene(folder, frames=SCENE_FRAMES, width=SCENE_WIDTH, height=SCENE_HEIGHT)
    return folder


@pytest.fixture(scope="session")
def other_scene() -> Path:
    """Different videos (one frame more), for jobs that must not share any input."""
    folder = Path(settings.DATA_DIR) / "test-scenes" / "scene2"
    if not (folder / "color.mp4").exists():
        write_scene(folder, frames=SCENE_FRAMES + 1, width=SCENE_WIDTH, height=SCENE_HEIGHT)
    return folder


@pytest.fixture
def make_prompt(scene):
    def make(user, text: str = "A red ball bounces down a wet street at dusk", **fields):
        fields.setdefault("video_dir", scene)
        fields.setdefault("name", "ball")
        return prompt_create(user=user, prompt_text=text, **fields)

    return make
