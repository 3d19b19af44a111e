"""Pytest fixtures for tests that need real input videos and prompts (import them in a conftest.py).

`scene_dir` is a real synthetic scene (prompts.samples) inside an allowed input root, written
once per test process; `make_prompt` creates prompts through the service layer from it.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from prompts.samples import write_scene
from prompts.services import prompt_create

SCENE_FRAMES = 12


@pytest.fixture(scope="session")
def scene_dir() -> Path:
    """A folder with color.mp4, depth.mp4 and segmentation.mp4 (12 frames, 320x176)."""
    folder = settings.DATA_DIR / "test-scenes" / "scene"
    if not (folder / "segmentation.mp4").exists():
        shutil.rmtree(folder, ignore_errors=True)
        write_scene(folder, frames=SCENE_FRAMES)
    return folder


@pytest.fixture
def scene_copy(scene_dir) -> Path:
    """A private copy of the scene inside the allowed roots, for tests that change or break files."""
    folder = settings.DATA_DIR / "test-scenes" / uuid.uuid4().hex
    shutil.copytree(scene_dir, folder)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def make_prompt(scene_dir):
    """Create a prompt through prompts.services (defaults: the scene, a text made unique per call)."""
    counter = iter(range(1_000_000))

    def make(user, prompt_text: str | None = None, **kwargs):
        kwargs.setdefault("video_dir", scene_dir)
        text = prompt_text or f"A quiet street number {next(counter)} at dawn"
        return prompt_create(user=user, prompt_text=text, **kwargs)

    return make


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """User fixtures hash passwords; the production hasher takes ~0.2 s each, MD5 is enough for tests."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def isolated_storage(settings):
    """Each test gets its own input store and outputs folder (the database is rolled back; files are not)."""
    root = settings.DATA_DIR / "per-test" / uuid.uuid4().hex
    settings.INPUTS_DIR, settings.OUTPUTS_DIR = root / "inputs", root / "outputs"
    yield root
    shutil.rmtree(root, ignore_errors=True)
