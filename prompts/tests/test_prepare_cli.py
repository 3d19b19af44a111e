"""`cosmos prepare INPUT_DIR`: a table and the folder for people, JSON for scripts, one clear error."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from prompts.models import Prompt
from prompts.prepare.describe import NO_CAPTION_MODEL
from prompts.prepare.testing import renders, simple_names  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("simple_names")]


def cosmos(*args) -> str:
    out = StringIO()
    call_command("cosmos", *[str(a) for a in args], stdout=out)
    return out.getvalue()


def test_prepare_prints_the_videos_the_folder_and_the_no_caption_note(admin_user, renders):
    out = cosmos("prepare", renders, "--name", "harbour", "--fps", "12")
    assert "6 frames, 1280x704, 12 fps, 0.5 s" in out
    for name in ("color.mp4", "depth.mp4", "segmentation.mp4"):
        assert name in out
    assert "Rendered at 64x36: scaled and padded to 1280x704." in out
    assert " ".join(NO_CAPTION_MODEL.split()) in " ".join(out.split())
    folder = out.split("Folder: ")[1].split()[0]
    assert "/prepared/harbour_" in folder


def test_prepare_json_for_scripts(alice, renders):
    data = json.loads(cosmos("prepare", renders, "--no-ai", "--fit", "crop", "--user", "alice", "--json"))
    assert data["name"] == "shot_010" and data["prompt_id"] is None
    assert data["description_source"] == "sequence facts" and data["notices"] == []
    assert data["metadata"]["fit"] == "crop" and data["metadata"]["prepared_by"] == "alice"
    assert "/prepared/shot_010_" in data["folder"] and (Path(data["folder"]) / "color.mp4").is_file()


def test_create_prompt_prints_the_new_prompt(alice, renders):
    out = cosmos("prepare", renders, "--create-prompt", "Boats rocking in a harbour", "--user", "alice", "--no-ai")
    prompt = Prompt.objects.get()
    assert f"Prompt: {prompt.pk}" in out and prompt.owner == alice


def test_bad_sequences_and_options_are_clear_errors(admin_user, renders):
    (renders / "color.0002.png").unlink()
    with pytest.raises(CommandError) as caught:
        cosmos("prepare", renders)
    assert str(caught.value).startswith(f"The sequence in {renders} has 1 problem; fix it and try again:")
    assert "color: frame 2 is missing" in str(caught.value)
    with pytest.raises(CommandError, match="fps must be a number from 1 to 120; got 0.0"):
        cosmos("prepare", renders, "--fps", "0")
    with pytest.raises(CommandError, match="does not exist"):
        cosmos("prepare", renders / "missing")
