"""`cosmos create prompt`, `list prompts`, `search`, `sample-inputs`: for people and with --json for scripts."""

from __future__ import annotations

import json
import shutil
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from prompts.errors import InvalidInput
from prompts.inputs import allowed_roots
from prompts.models import Prompt
from prompts.services import prompt_create
from prompts.videos import probe_video

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_model(settings):
    # The smart name itself is tested in test_naming; here the instant names keep the tests fast.
    settings.COSMOS = {**settings.COSMOS, "SMART_NAMES": False}


def cosmos(*args) -> str:
    out = StringIO()
    call_command("cosmos", *[str(a) for a in args], stdout=out)
    return out.getvalue()


def test_create_prompt_prints_its_id_and_name(admin_user, scene_dir):
    out = cosmos("create", "prompt", "A futuristic city at night", scene_dir)
    prompt = Prompt.objects.get()
    assert out.strip() == f'Created prompt {prompt.id} with name "futuristic_city_night"'
    again = cosmos("create", "prompt", "A futuristic city at night", scene_dir)
    assert f"Prompt {prompt.id}" in again and "already exists" in again
    assert Prompt.objects.count() == 1


def test_create_prompt_json_with_name_and_negative(alice, scene_dir):
    data = json.loads(
        cosmos("create", "prompt", "Transform to anime style", scene_dir, "--name", "anime_transform",
               "--negative", "blurry", "--user", "alice", "--json")
    )
    assert data["created"] is True and data["id"].startswith("ps_")
    assert (data["name"], data["negative_prompt"], data["owner"]) == ("anime_transform", "blurry", "alice")


def test_create_prompt_errors_are_one_clear_line(admin_user, scene_copy, settings):
    (scene_copy / "color.mp4").unlink()
    with pytest.raises(CommandError, match="No color.mp4 in"):
        cosmos("create", "prompt", "A city", scene_copy)
    with pytest.raises(CommandError, match="Unknown model type 'video'"):
        cosmos("create", "prompt", "A city", scene_copy, "--model", "video")
    with pytest.raises(CommandError, match="No user named 'carol'"):
        cosmos("create", "prompt", "A city", scene_copy, "--user", "carol")
    assert Prompt.objects.count() == 0


def test_the_command_line_takes_a_folder_outside_the_input_roots(alice, scene_dir, tmp_path):
    # The machine's own user may read any folder; the roots only confine web and API users.
    outside = tmp_path / "renders"
    shutil.copytree(scene_dir, outside)
    assert not any(outside.resolve().is_relative_to(root) for root in allowed_roots())
    data = json.loads(cosmos("create", "prompt", "A harbor at dawn", outside, "--user", "alice", "--json"))
    assert Prompt.objects.get(pk=data["id"]).owner == alice
    with pytest.raises(InvalidInput, match="outside the allowed input folders"):
        prompt_create(user=alice, prompt_text="A harbor at noon", video_dir=outside)
    assert Prompt.objects.count() == 1


def test_list_prompts_shows_only_the_users_own(alice, bob, make_prompt):
    mine, theirs = make_prompt(alice, "Alice's harbour"), make_prompt(bob, "Bob's desert")
    table = cosmos("list", "prompts", "--user", "alice")
    assert mine.id in table and theirs.id not in table and "Prompts (1)" in table
    data = json.loads(cosmos("list", "prompts", "--user", "bob", "--json"))
    assert [item["id"] for item in data["items"]] == [theirs.id]
    assert (data["total"], data["limit"], data["offset"]) == (1, 50, 0)


def test_list_prompts_pages_and_filters(alice, make_prompt):
    for _ in range(3):
        make_prompt(alice)
    make_prompt(alice, model_type="enhance")
    data = json.loads(cosmos("list", "prompts", "--user", "alice", "--model", "transfer", "--limit", "2", "--json"))
    assert (len(data["items"]), data["total"]) == (2, 3)
    assert "showing 1-2 of 4" in cosmos("list", "prompts", "--user", "alice", "--limit", "2")
    with pytest.raises(CommandError, match="limit must be between 1 and 500"):
        cosmos("list", "prompts", "--user", "alice", "--limit", "0")


def test_search_finds_text_and_name_in_any_case(alice, bob, make_prompt):
    city = make_prompt(alice, "A futuristic City at night")
    make_prompt(alice, "A desert road")
    bobs_city = make_prompt(bob, "Bob's city")
    table = cosmos("search", "CITY", "--user", "alice")
    assert "1 prompt(s) match 'CITY'" in table and city.id in table and bobs_city.id not in table
    data = json.loads(cosmos("search", "city", "--user", "alice", "--json"))
    assert data["query"] == "city" and [item["id"] for item in data["items"]] == [city.id]
    assert "No prompts match 'lighthouse'" in cosmos("search", "lighthouse", "--user", "alice")


def test_search_snippet_centres_on_the_match(alice, make_prompt):
    from prompts.cli import snippet

    text = "filler " * 40 + "a LIGHTHOUSE on the cliff " + "filler " * 40
    shown = snippet(text, "lighthouse")
    assert "LIGHTHOUSE" in shown.plain and shown.plain.startswith("…") and shown.plain.endswith("…")
    assert [span.style for span in shown.spans] == ["bold yellow"]


def test_sample_inputs_writes_a_scene_that_can_become_a_prompt(admin_user, settings):
    folder = settings.DATA_DIR / "my-samples"
    out = cosmos("sample-inputs", folder, "--frames", "8")
    assert "Wrote color.mp4, depth.mp4, segmentation.mp4" in out
    facts = {name: probe_video(folder / f"{name}.mp4", label=name) for name in ("color", "depth", "segmentation")}
    assert {(f.width, f.height, f.frames) for f in facts.values()} == {(320, 176, 8)}
    cosmos("create", "prompt", "A ball", folder)
    with pytest.raises(CommandError, match="already holds color.mp4"):
        cosmos("sample-inputs", folder)
