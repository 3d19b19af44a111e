"""`sequence_prepare`: a server-side folder of PNG sequences -> videos, metadata.json and maybe a prompt."""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from pathlib import Path

import pytest
from django.conf import settings

from prompts.errors import InvalidInput, NotFound
from prompts.models import Prompt
from prompts.prepare.describe import NO_CAPTION_MODEL
from prompts.prepare.discovery import SequenceInvalid
from prompts.prepare.services import PromptNotCreated, prepare_options, sequence_prepare
from prompts.prepare.testing import renders, simple_names, write_sequence  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("simple_names")]


def prepared_entries() -> list[str]:
    folder = settings.INPUTS_DIR / "prepared"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def prepare(user, folder, **options):
    return sequence_prepare(user=user, input_dir=folder, options=prepare_options(**options))


def test_videos_and_metadata_land_in_a_named_folder_of_the_inputs_area(alice, renders):
    result = prepare(alice, renders, name="Urban Scene", fps=30, description="A street at dusk", use_ai=False)
    assert result.folder.parent == settings.INPUTS_DIR / "prepared"
    assert re.fullmatch(r"urban_scene_\d{8}_\d{6}", result.folder.name)
    assert prepared_entries() == [result.folder.name], "no work folder may be left"
    assert sorted(p.name for p in result.folder.iterdir()) == [
        "color.mp4", "depth.mp4", "metadata.json", "segmentation.mp4"
    ]
    metadata = json.loads((result.folder / "metadata.json").read_text())
    assert metadata == result.metadata
    assert metadata["name"] == "urban_scene"
    assert (metadata["description"], metadata["description_source"]) == ("A street at dusk", "given")
    assert metadata["source"] == str(renders)
    assert metadata["prepared_by"] == "alice"
    assert (metadata["frame_count"], metadata["frame_numbers"], metadata["fps"]) == (6, [1, 6], 30)
    assert metadata["duration_seconds"] == 0.2
    assert (metadata["resolution"], metadata["source_resolution"], metadata["fit"]) == ([1280, 704], [64, 36], "pad")
    assert metadata["modalities"] == ["color", "depth", "segmentation"]
    for filename, info in metadata["files"].items():
        data = (result.folder / filename).read_bytes()
        assert info["sha256"] == hashlib.sha256(data).hexdigest()
        assert info["size"] == len(data) and info["frames"] == 6
    assert metadata["files"]["depth.mp4"]["source_frames"] == "depth.####.png"
    assert metadata["files"]["depth.mp4"]["depth_range"][0] == 2000


def test_use_ai_says_no_caption_model_is_available_and_describes_the_facts(alice, renders):
    result = prepare(alice, renders)
    assert result.description.notice == NO_CAPTION_MODEL
    assert result.description.source == "sequence facts"
    assert result.description.text == (
        "6 frames of color, depth and segmentation at 1280x704, 0.25 s at 24 fps "
        "(rendered at 64x36, scaled and padded)."
    )


def test_no_ai_describes_the_facts_without_a_notice(alice, renders):
    result = prepare(alice, renders, use_ai=False, fit="crop")
    assert result.description.notice is None
    assert result.description.text.endswith("(rendered at 64x36, scaled and cropped).")


def test_the_name_comes_from_the_text_else_from_the_folder(alice, renders):
    assert prepare(alice, renders, use_ai=False).name == "shot_010"
    described = prepare(alice, renders, description="Rainy neon alley with reflections", use_ai=False)
    assert described.name == "rainy_neon_alley"


def test_two_preparations_of_the_same_name_get_their_own_folders(alice, renders):
    first = prepare(alice, renders, name="shot", use_ai=False)
    second = prepare(alice, renders, name="shot", use_ai=False)
    assert first.folder != second.folder
    assert (first.folder / "color.mp4").exists() and (second.folder / "color.mp4").exists()


def test_create_prompt_makes_a_prompt_of_the_users_own_from_the_videos(alice, renders):
    result = prepare(alice, renders, name="alley", prompt_text="A rainy neon alley at night", use_ai=False)
    prompt = Prompt.objects.get(pk=result.prompt_id)
    assert prompt.owner == alice and prompt.name == "alley"
    assert prompt.prompt_text == "A rainy neon alley at night"
    for role in ("color", "depth", "segmentation"):
        assert prompt.inputs[role]["sha256"] == result.metadata["files"][f"{role}.mp4"]["sha256"]


def test_a_prompt_that_cannot_be_created_keeps_the_videos_and_says_where(alice, renders, settings):
    # The admin allowed only the renders folder: the inputs area is outside every input root.
    settings.COSMOS = {**settings.COSMOS, "INPUT_ROOTS": [str(renders.parent)]}
    with pytest.raises(PromptNotCreated) as caught:
        prepare(alice, renders, name="alley", prompt_text="A rainy alley")
    folder = Path(caught.value.output_dir)
    assert folder.parent == settings.INPUTS_DIR / "prepared" and (folder / "color.mp4").exists()
    assert caught.value.message.startswith(f"The videos are in {folder}, but the prompt was not created: ")
    assert Prompt.objects.count() == 0


def test_a_sequence_with_problems_is_refused_and_leaves_nothing_behind(alice, renders):
    (renders / "color.0003.png").unlink()
    (renders / "depth.0002.png").write_text("not a png")
    with pytest.raises(SequenceInvalid) as caught:
        prepare(alice, renders, name="broken")
    assert caught.value.problems == [
        "color: frame 3 is missing (the pass runs 1-6); render the missing frames or renumber the pass.",
        "depth.0002.png is not an image file.",
    ]
    assert prepared_entries() == []


def test_frames_damaged_inside_are_found_while_encoding_and_leave_nothing_behind(alice, renders):
    data = bytearray((renders / "color.0004.png").read_bytes())
    data[data.index(b"IDAT") + 20] ^= 0xFF
    (renders / "color.0004.png").write_bytes(bytes(data))
    with pytest.raises(SequenceInvalid, match="color.0004.png cannot be decoded"):
        prepare(alice, renders, name="damaged")
    assert prepared_entries() == []


def test_a_folder_outside_the_input_roots_is_refused(alice, tmp_path):
    write_sequence(tmp_path / "renders")
    with pytest.raises(InvalidInput, match="is outside the allowed input folders") as caught:
        prepare(alice, tmp_path / "renders")
    assert caught.value.field == "input_dir"
    assert prepared_entries() == []


def test_an_inactive_user_may_not_prepare(alice, renders):
    alice.is_active = False
    with pytest.raises(NotFound):
        prepare(alice, renders)


@pytest.mark.parametrize(
    ("options", "field", "message"),
    [
        ({"fps": 0}, "fps", "fps must be a number from 1 to 120; got 0."),
        ({"fps": 500}, "fps", "fps must be a number from 1 to 120; got 500."),
        ({"fps": float("nan")}, "fps", "fps must be a number from 1 to 120; got nan."),
        ({"fps": "24"}, "fps", "fps must be a number from 1 to 120; got '24'."),
        ({"fps": True}, "fps", "fps must be a number from 1 to 120; got True."),
        ({"fit": "stretch"}, "fit", "fit must be 'pad' or 'crop'; got 'stretch'."),
        ({"name": "!!!"}, "name", "The name '!!!' has no letters or digits to name a folder with; choose another."),
    ],
)
def test_bad_options_say_what_to_fix(options, field, message):
    with pytest.raises(InvalidInput) as caught:
        prepare_options(**options)
    assert (caught.value.field, caught.value.message) == (field, message)


def test_a_stale_work_folder_of_a_killed_preparation_is_swept(alice, renders):
    parent = settings.INPUTS_DIR / "prepared"
    old, fresh = parent / ".work-old", parent / ".work-fresh"
    old.mkdir(parents=True)
    fresh.mkdir()
    two_days_ago = time.time() - 2 * 24 * 3600
    os.utime(old, (two_days_ago, two_days_ago))
    prepare(alice, renders, name="after_crash", use_ai=False)
    assert not old.exists() and fresh.exists()
