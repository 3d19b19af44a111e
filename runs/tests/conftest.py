"""Fixtures of the runs tests: prompts.testing's (per-test storage, fast password hashing, its
scene) and a smaller scene of our own that `make_prompt` uses (the simulator copies frames from
its inputs, so small inputs keep runs fast)."""

from __future__ import annotations

import itertools
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

SCENE_FRAMES, SCENE_WIDTH, SCENE_HEIGHT = 8, 64, 48


@pytest.fixture(scope="session")
def scene() -> Path:
    folder = Path(settings.DATA_DIR) / "test-scenes" / "scene1"
    if not (folder / "color.mp4").exists():
        write_scene(folder, frames=SCENE_FRAMES, width=SCENE_WIDTH, height=SCENE_HEIGHT)
    return folder


@pytest.fixture
def make_prompt(scene):
    """Create a prompt through prompts.services from the small scene; each call without a text is a
    new prompt (as prompts.testing.make_prompt, whose larger scene would slow the simulator)."""
    counter = itertools.count()

    def make(user, prompt_text: str | None = None, **kwargs):
        kwargs.setdefault("video_dir", scene)
        text = prompt_text or f"A red ball bounces down a wet street at dusk, take {next(counter)}"
        return prompt_create(user=user, prompt_text=text, **kwargs)

    return make
