"""Fixtures of the runs tests: prompts made from a real scene through the prompts service (from
prompts.testing), and a second scene with different videos for jobs that must share no input."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from prompts.samples import write_scene
from prompts.tests.api_support import ApiClient
from prompts.testing import (  # noqa: F401  (fixtures)
    SCENE_FRAMES,
    fast_password_hashing,
    isolated_storage,
    make_prompt,
    scene_copy,
    scene_dir,
)


@pytest.fixture(scope="session")
def other_scene() -> Path:
    """Different videos (one frame more than scene_dir), so no input is shared with it."""
    folder = Path(settings.DATA_DIR) / "test-scenes" / "other"
    if not (folder / "segmentation.mp4").exists():
        write_scene(folder, frames=SCENE_FRAMES + 1)
    return folder


@pytest.fixture(scope="session")
def scene(scene_dir) -> Path:
    """The page tests' name for prompts.testing's scene."""
    return scene_dir


# The API as each kind of user sees it: a client sending that user's bearer token.


@pytest.fixture
def as_alice(alice):
    return ApiClient(alice)


@pytest.fixture
def as_bob(bob):
    return ApiClient(bob)


@pytest.fixture
def as_staff(staff):
    return ApiClient(staff)
