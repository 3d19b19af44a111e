"""Creating prompts: what is stored, the deterministic id, and every bad input refused with nothing written."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile
from django_q.models import OrmQ

from prompts.errors import InvalidInput, NotAllowed, NotFound
from prompts.models import DEFAULT_NEGATIVE_PROMPT, Prompt
from prompts.services import prompt_create, prompt_name_refresh, prompt_rename, prompt_text_replace

pytestmark = pytest.mark.django_db


def stored_files() -> set[str]:
    if not settings.INPUTS_DIR.exists():
        return set()
    return {p.name for p in settings.INPUTS_DIR.iterdir() if p.name != ".lock"}


@contextmanager
def nothing_changes():
    """Assert the block leaves no prompt row and no file (not even a temp file) behind."""
    rows, files = Prompt.objects.count(), stored_files()
    yield
    assert Prompt.objects.count() == rows
    assert stored_files() == files


def upload(path: Path, name: str | None = None) -> SimpleUploadedFile:
    return SimpleUploadedFile(name or path.name, path.read_bytes(), content_type="video/mp4")


# --- what a prompt records --------------------------------------------------------------------


def test_prompt_records_each_video_and_stores_it_by_content(alice, scene_dir):
    prompt = prompt_create(user=alice, prompt_text="A futuristic city at night", video_dir=scene_dir)
    assert prompt.id.startswith("ps_") and prompt.was_created
    assert set(prompt.inputs) == {"color", "depth", "segmentation"}
    color = prompt.inputs["color"]
    assert (color["width"], color["height"], color["frames"], color["fps"]) == (320, 176, 12, 24.0)
    assert color["codec"] == "h264" and color["duration"] == pytest.approx(0.5, abs=0.05)
    stored = settings.DATA_DIR / color["path"]
    assert stored == settings.INPUTS_DIR / f"{color['sha256']}.mp4"
    assert stored.read_bytes() == (scene_dir / "color.mp4").read_bytes()
    assert color["size"] == stored.stat().st_size
    assert not [p for p in settings.INPUTS_DIR.iterdir() if p.name.startswith(".incoming-")]


def test_color_alone_is_enough(alice, scene_copy):
    (scene_copy / "depth.mp4").unlink()
    (scene_copy / "segmentation.mp4").unlink()
    prompt = prompt_create(user=alice, prompt_text="Only colour", video_dir=scene_copy)
    assert set(prompt.inputs) == {"color"}


def test_same_video_is_stored_once_for_many_prompts(alice, bob, scene_dir):
    first = prompt_create(user=alice, prompt_text="One", video_dir=scene_dir)
    prompt_create(user=bob, prompt_text="Two", video_dir=scene_dir)
    prompt_create(user=alice, prompt_text="Three", files={"color": upload(scene_dir / "color.mp4")})
    assert stored_files() == {f"{info['sha256']}.mp4" for info in first.inputs.values()}


def test_uploads_and_server_paths_give_the_same_record(alice, scene_dir):
    big = TemporaryUploadedFile("depth.mp4", "video/mp4", 0, None)
    big.write((scene_dir / "depth.mp4").read_bytes())
    big.seek(0)
    by_upload = prompt_create(
        user=alice, prompt_text="Same", files={"color": upload(scene_dir / "color.mp4", "clip.mp4"), "depth": big}
    )
    by_path = prompt_create(
        user=alice, prompt_text="Same again", files={"color": scene_dir / "color.mp4", "depth": scene_dir / "depth.mp4"}
    )
    assert by_upload.inputs == by_path.inputs


def test_text_is_sanitised_and_negative_defaults(alice, scene_dir):
    prompt = prompt_create(user=alice, prompt_text="  A city\x00 at\x1b[31m night\r\nline two\tend\x07  ", video_dir=scene_dir)
    assert prompt.prompt_text == "A city at[31m night\nline two\tend"
    assert prompt.negative_prompt == DEFAULT_NEGATIVE_PROMPT
    custom = prompt_create(user=alice, prompt_text="x y z", negative_prompt="blurry\x00", video_dir=scene_dir)
    assert custom.negative_prompt == "blurry"


def test_same_prompt_twice_returns_the_first(alice, bob, scene_dir):
    first = prompt_create(user=alice, prompt_text="A futuristic city at night", video_dir=scene_dir, parameters={"seed": 1})
    again = prompt_create(user=alice, prompt_text="A futuristic city at night", video_dir=scene_dir, parameters={"seed": 1})
    assert again.id == first.id and first.was_created and not again.was_created
    assert Prompt.objects.count() == 1
    # Any difference in owner, text, videos or parameters is another prompt.
    others = [
        prompt_create(user=bob, prompt_text="A futuristic city at night", video_dir=scene_dir, parameters={"seed": 1}),
        prompt_create(user=alice, prompt_text="A futuristic city at dawn", video_dir=scene_dir, parameters={"seed": 1}),
        prompt_create(user=alice, prompt_text="A futuristic city at night", video_dir=scene_dir, parameters={"seed": 2}),
        prompt_create(
            user=alice, prompt_text="A futuristic city at night", files={"color": scene_dir / "color.mp4"},
            parameters={"seed": 1},
        ),
    ]
    assert len({first.id, *(p.id for p in others)}) == 5


def test_enhanced_prompt_reuses_the_original_videos(alice, scene_dir):
    original = prompt_create(user=alice, prompt_text="A city", video_dir=scene_dir)
    enhanced = prompt_create(
        user=alice, prompt_text="A sprawling neon city", model_type="enhance", enhanced_from=original
    )
    assert enhanced.inputs == original.inputs and enhanced.enhanced_from_id == original.id


def test_smart_name_is_queued_after_commit_unless_a_name_is_given(alice, scene_dir, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        auto = prompt_create(user=alice, prompt_text="A beautiful sunset over the ocean with waves", video_dir=scene_dir)
    assert auto.name == "sunset_ocean_waves" and auto.name_is_auto  # the instant name, no model involved
    assert OrmQ.objects.count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        named = prompt_create(user=alice, prompt_text="Rain", video_dir=scene_dir, name="  my\x00 rain  ")
    assert named.name == "my rain" and not named.name_is_auto
    assert OrmQ.objects.count() == 1


def test_smart_name_never_overwrites_a_users_name(alice, scene_dir, settings):
    settings.COSMOS = {**settings.COSMOS, "SMART_NAMES": False}  # the fallback names; no model load
    prompt = prompt_create(user=alice, prompt_text="Heavy rain on cobblestones", video_dir=scene_dir)
    prompt_rename(user=alice, prompt_id=prompt.id, name="mine")
    assert prompt_name_refresh(prompt_id=prompt.id) is None
    assert Prompt.objects.get(pk=prompt.id).name == "mine"


def test_text_replace_renames_an_automatic_name_only(alice, bob, scene_dir, settings):
    settings.COSMOS = {**settings.COSMOS, "SMART_NAMES": False}
    prompt = prompt_create(user=alice, prompt_text="A city", video_dir=scene_dir)
    replaced = prompt_text_replace(user=alice, prompt_id=prompt.id, prompt_text="Snowy mountains\x00 at noon")
    assert replaced.prompt_text == "Snowy mountains at noon" and replaced.name == "snowy_mountains_noon"
    with pytest.raises(NotFound):
        prompt_text_replace(user=bob, prompt_id=prompt.id, prompt_text="mine now")
    with pytest.raises(InvalidInput):
        prompt_text_replace(user=alice, prompt_id=prompt.id, prompt_text="\x00\x01")
    assert Prompt.objects.get(pk=prompt.id).prompt_text == "Snowy mountains at noon"


def test_rename_checks_owner_and_name(alice, bob, staff, scene_dir):
    prompt = prompt_create(user=alice, prompt_text="A city", video_dir=scene_dir)
    with pytest.raises(NotFound):
        prompt_rename(user=bob, prompt_id=prompt.id, name="bob's")
    with pytest.raises(InvalidInput, match="empty"):
        prompt_rename(user=alice, prompt_id=prompt.id, name=" \x00 ")
    with pytest.raises(InvalidInput, match="limit is 100"):
        prompt_rename(user=alice, prompt_id=prompt.id, name="n" * 101)
    assert prompt_rename(user=staff, prompt_id=prompt.id, name="by staff").name == "by staff"


# --- bad input: a clear message, and nothing written ------------------------------------------


def test_missing_color_video_is_refused(alice, scene_copy):
    (scene_copy / "color.mp4").unlink()
    with nothing_changes(), pytest.raises(InvalidInput, match="No color.mp4 in .*needs color.mp4"):
        prompt_create(user=alice, prompt_text="A city", video_dir=scene_copy)
    with nothing_changes(), pytest.raises(InvalidInput, match="color video is required"):
        prompt_create(user=alice, prompt_text="A city", files={"depth": scene_copy / "depth.mp4"})


@pytest.mark.parametrize(
    "content",
    [b"", b"this is a text file, not a video\n" * 20, b"\x00\x00\x00\x18ftypmp42" + os.urandom(4000)],
    ids=["empty", "text", "mp4-header-then-garbage"],
)
def test_a_file_that_is_not_a_video_is_refused(alice, scene_copy, content):
    (scene_copy / "depth.mp4").write_bytes(content)
    with nothing_changes(), pytest.raises(InvalidInput, match="depth.mp4 is not a video that can be decoded"):
        prompt_create(user=alice, prompt_text="A city", video_dir=scene_copy)
    with nothing_changes(), pytest.raises(InvalidInput, match="not a video that can be decoded") as error:
        prompt_create(
            user=alice,
            prompt_text="A city",
            files={"color": upload(scene_copy / "color.mp4"), "depth": SimpleUploadedFile("d.mp4", content)},
        )
    assert error.value.field == "depth"


def test_an_audio_only_file_is_refused(alice, scene_copy):
    import av
    import numpy as np

    with av.open(str(scene_copy / "segmentation.mp4"), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), dtype=np.float32), format="fltp", layout="mono")
        frame.sample_rate = 8000
        container.mux(stream.encode(frame))
        container.mux(stream.encode())
    with nothing_changes(), pytest.raises(InvalidInput, match="segmentation.mp4 has no video stream"):
        prompt_create(user=alice, prompt_text="A city", video_dir=scene_copy)


def test_a_folder_outside_the_allowed_roots_is_refused(alice, scene_dir, tmp_path, settings):
    settings.COSMOS = {**settings.COSMOS, "INPUT_ROOTS": [str(settings.DATA_DIR)]}
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    for name in ("color.mp4", "depth.mp4"):
        (outside / name).write_bytes((scene_dir / name).read_bytes())
    with nothing_changes(), pytest.raises(InvalidInput, match="outside the allowed input folders"):
        prompt_create(user=alice, prompt_text="A city", video_dir=outside)
    with nothing_changes(), pytest.raises(InvalidInput, match="outside the allowed input folders"):
        prompt_create(user=alice, prompt_text="A city", files={"color": outside / "color.mp4"})
    with nothing_changes(), pytest.raises(InvalidInput, match="outside the allowed input folders"):
        prompt_create(user=alice, prompt_text="A city", video_dir="/etc")


def test_dotdot_in_a_path_is_refused_even_when_it_lands_inside(alice, scene_dir):
    sneaky = scene_dir / ".." / scene_dir.name
    with nothing_changes(), pytest.raises(InvalidInput, match=r"contains '\.\.'"):
        prompt_create(user=alice, prompt_text="A city", video_dir=sneaky)
    with nothing_changes(), pytest.raises(InvalidInput, match=r"contains '\.\.'"):
        prompt_create(user=alice, prompt_text="A city", files={"color": sneaky / "color.mp4"})


def test_symlinks_that_escape_the_roots_are_refused(alice, scene_copy, tmp_path, settings):
    settings.COSMOS = {**settings.COSMOS, "INPUT_ROOTS": [str(settings.DATA_DIR)]}
    outside = tmp_path / "outside.mp4"
    outside.write_bytes((scene_copy / "depth.mp4").read_bytes())
    (scene_copy / "depth.mp4").unlink()
    (scene_copy / "depth.mp4").symlink_to(outside)
    with nothing_changes(), pytest.raises(InvalidInput, match="depth video .* outside the allowed input folders"):
        prompt_create(user=alice, prompt_text="A city", video_dir=scene_copy)
    link_dir = settings.DATA_DIR / "escape-link"
    link_dir.symlink_to(tmp_path, target_is_directory=True)
    with nothing_changes(), pytest.raises(InvalidInput, match="outside the allowed input folders"):
        prompt_create(user=alice, prompt_text="A city", video_dir=link_dir)


def test_a_folder_that_does_not_exist_is_refused(alice, settings):
    with nothing_changes(), pytest.raises(InvalidInput, match="does not exist"):
        prompt_create(user=alice, prompt_text="A city", video_dir=settings.DATA_DIR / "no-such-folder")


def test_prompt_text_over_10000_characters_is_refused(alice, scene_dir):
    with nothing_changes(), pytest.raises(InvalidInput, match="10,001 characters; the limit is 10,000") as error:
        prompt_create(user=alice, prompt_text="x" * 10_001, video_dir=scene_dir)
    assert error.value.field == "prompt_text"
    assert prompt_create(user=alice, prompt_text="x" * 10_000 + "\x00" * 50, video_dir=scene_dir).was_created


@pytest.mark.parametrize("text", ["", "   ", "\x00\x00", "\x01\x02\x1b\x7f\r", "\n\t "])
def test_text_empty_after_sanitising_is_refused(alice, scene_dir, text):
    with nothing_changes(), pytest.raises(InvalidInput, match="prompt_text is empty"):
        prompt_create(user=alice, prompt_text=text, video_dir=scene_dir)


def test_unknown_model_type_is_refused(alice, scene_dir):
    with nothing_changes(), pytest.raises(InvalidInput, match="Unknown model type 'transfer2'.*transfer, enhance"):
        prompt_create(user=alice, prompt_text="A city", video_dir=scene_dir, model_type="transfer2")


def test_ambiguous_or_missing_video_sources_are_refused(alice, scene_dir):
    with nothing_changes(), pytest.raises(InvalidInput, match="not both"):
        prompt_create(user=alice, prompt_text="A city", video_dir=scene_dir, files={"color": scene_dir / "color.mp4"})
    with nothing_changes(), pytest.raises(InvalidInput, match="No input videos"):
        prompt_create(user=alice, prompt_text="A city")
    with nothing_changes(), pytest.raises(InvalidInput, match="Unknown video role 'normal'"):
        prompt_create(user=alice, prompt_text="A city", files={"color": scene_dir / "color.mp4", "normal": scene_dir / "depth.mp4"})


def test_bad_parameters_are_refused(alice, scene_dir):
    with nothing_changes(), pytest.raises(InvalidInput, match="parameters must be a JSON object"):
        prompt_create(user=alice, prompt_text="A city", video_dir=scene_dir, parameters=[1, 2])
    with nothing_changes(), pytest.raises(InvalidInput, match="plain JSON values"):
        prompt_create(user=alice, prompt_text="A city", video_dir=scene_dir, parameters={"x": float("nan")})


def test_an_upload_over_the_size_limit_is_refused(alice, scene_dir, settings):
    settings.COSMOS_MAX_UPLOAD_BYTES = 1000
    with nothing_changes(), pytest.raises(InvalidInput, match="the limit is 1,000"):
        prompt_create(user=alice, prompt_text="A city", files={"color": upload(scene_dir / "color.mp4")})


def test_enhancing_another_users_prompt_is_refused(alice, bob, scene_dir):
    original = prompt_create(user=alice, prompt_text="A city", video_dir=scene_dir)
    with nothing_changes(), pytest.raises(NotFound):
        prompt_create(user=bob, prompt_text="Mine now", enhanced_from=original)


def test_anonymous_cannot_create(scene_dir):
    from django.contrib.auth.models import AnonymousUser

    with nothing_changes(), pytest.raises(NotAllowed):
        prompt_create(user=AnonymousUser(), prompt_text="A city", video_dir=scene_dir)
