"""Prompt pages: list, search with highlight, filter, pages, create by upload, detail, rename,
input videos, smart-name polling — each access rule from both sides."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from prompts.models import Prompt
from prompts.samples import write_scene
from prompts.services import prompt_create

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="session")
def scene() -> dict[str, Path]:
    """A tiny color/depth/segmentation scene inside the data dir (an allowed input root), written once."""
    folder = Path(settings.DATA_DIR) / "test-scenes" / "pages"
    if not (folder / "color.mp4").exists():
        write_scene(folder, frames=8, width=64, height=48)
    return {role: folder / f"{role}.mp4" for role in ("color", "depth", "segmentation")}


def uploads(scene, *roles):
    return {role: SimpleUploadedFile(f"{role}.mp4", scene[role].read_bytes(), "video/mp4") for role in roles}


def make_prompt(owner, text, *, model_type="transfer", name="") -> Prompt:
    """A prompt row without videos: enough for list and search pages."""
    return Prompt.objects.create(
        id=f"ps_{owner.pk}_{abs(hash((text, model_type))) % 10**12}",
        owner=owner,
        prompt_text=text,
        name=name or text.split()[0].lower(),
        model_type=model_type,
    )


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


# ---- list, search, filter, pages -------------------------------------------------------------


def test_list_shows_only_the_users_own_prompts(alice_client, alice, bob):
    make_prompt(alice, "A neon city at night")
    make_prompt(bob, "A quiet forest lake")
    page = alice_client.get("/prompts/").content.decode()
    assert "A neon city at night" in page
    assert "quiet forest" not in page


def test_staff_see_every_prompt(client, staff, alice, bob):
    make_prompt(alice, "A neon city at night")
    make_prompt(bob, "A quiet forest lake")
    client.force_login(staff)
    page = client.get("/prompts/").content.decode()
    assert "neon city" in page and "quiet forest" in page


def test_search_highlights_the_matches_case_insensitively(alice_client, alice):
    make_prompt(alice, "A Neon city with neon signs")
    make_prompt(alice, "A desert road")
    page = alice_client.get("/prompts/", {"q": "neon"}).content.decode()
    assert "<mark>Neon</mark> city with <mark>neon</mark> signs" in page
    assert "desert road" not in page
    assert "1 prompt matching" in page


def test_search_escapes_html_in_prompt_text(alice_client, alice):
    make_prompt(alice, "A <script>alert(1)</script> sign")
    page = alice_client.get("/prompts/", {"q": "script"}).content.decode()
    assert "<script>alert" not in page
    assert "&lt;<mark>script</mark>&gt;" in page


def test_model_type_filter(alice_client, alice):
    make_prompt(alice, "A transfer prompt", model_type="transfer")
    make_prompt(alice, "An upscale prompt", model_type="upscale")
    page = alice_client.get("/prompts/", {"model_type": "upscale"}).content.decode()
    assert "An upscale prompt" in page and "A transfer prompt" not in page


def test_an_unknown_model_type_is_ignored_not_an_error(alice_client, alice):
    make_prompt(alice, "A transfer prompt")
    response = alice_client.get("/prompts/", {"model_type": "nonsense", "page": "x"})
    assert response.status_code == 200
    assert "A transfer prompt" in response.content.decode()


def test_pages_of_prompts(alice_client, alice):
    for i in range(30):
        make_prompt(alice, f"Prompt number {i:02d}")
    first = alice_client.get("/prompts/").content.decode()
    second = alice_client.get("/prompts/", {"page": 2}).content.decode()
    assert "Page 1 of 2" in first and "Page 2 of 2" in second
    assert first.count('name="prompt_ids"') == 25 and second.count('name="prompt_ids"') == 5


def test_htmx_search_returns_only_the_results(alice_client, alice):
    make_prompt(alice, "A neon city")
    response = alice_client.get(
        "/prompts/", {"q": "neon"}, headers={"HX-Request": "true", "HX-Target": "prompt-results"}
    )
    page = response.content.decode()
    assert "<mark>neon</mark>" in page
    assert "<html" not in page


def test_anonymous_users_are_sent_to_log_in(client):
    response = client.get("/prompts/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


# ---- create by upload ----------------------------------------------------------------------


def test_create_by_upload_opens_the_new_prompt(alice_client, alice, scene):
    response = alice_client.post(
        "/prompts/new/",
        {"prompt_text": "A red ball in a plaza", **uploads(scene, "color", "depth", "segmentation")},
    )
    assert response.status_code == 302
    prompt = Prompt.objects.get(owner=alice)
    assert response["Location"] == f"/prompts/{prompt.id}/"
    assert set(prompt.inputs) == {"color", "depth", "segmentation"}
    page = alice_client.get(response["Location"]).content.decode()
    assert "A red ball in a plaza" in page
    assert f"/prompts/{prompt.id}/inputs/color.mp4" in page


def test_uploading_the_same_prompt_twice_says_so(alice_client, scene):
    data = {"prompt_text": "A red ball in a plaza"}
    alice_client.post("/prompts/new/", {**data, **uploads(scene, "color")})
    response = alice_client.post("/prompts/new/", {**data, **uploads(scene, "color")}, follow=True)
    assert "You already had this prompt" in response.content.decode()
    assert Prompt.objects.count() == 1


def test_a_file_that_is_not_a_video_is_refused_and_nothing_is_created(alice_client, settings):
    bad = SimpleUploadedFile("color.mp4", b"not a video at all", "video/mp4")
    response = alice_client.post("/prompts/new/", {"prompt_text": "A red ball", "color": bad})
    assert response.status_code == 422
    assert "video" in response.content.decode().lower()
    assert Prompt.objects.count() == 0
    # Each test has its own input store (prompts.testing.isolated_storage): nothing was kept in it.
    assert not settings.INPUTS_DIR.exists() or not any(p.is_file() for p in settings.INPUTS_DIR.rglob("*"))


def test_a_color_video_is_required(alice_client):
    response = alice_client.post("/prompts/new/", {"prompt_text": "A red ball"})
    assert response.status_code == 422
    assert "This field is required" in response.content.decode()
    assert Prompt.objects.count() == 0


def test_empty_prompt_text_is_refused(alice_client, scene):
    response = alice_client.post("/prompts/new/", {"prompt_text": "\x00\x01", **uploads(scene, "color")})
    assert response.status_code == 422
    assert Prompt.objects.count() == 0


# ---- detail, rename, inputs ----------------------------------------------------------------


@pytest.fixture
def alices_prompt(alice, scene):
    return prompt_create(user=alice, prompt_text="A red ball in a plaza", files=dict(scene))


def test_another_users_prompt_is_not_found(client, bob, alices_prompt):
    client.force_login(bob)
    for url in (
        f"/prompts/{alices_prompt.id}/",
        f"/prompts/{alices_prompt.id}/name/",
        f"/prompts/{alices_prompt.id}/inputs/color.mp4",
    ):
        assert client.get(url).status_code == 404, url
    response = client.post(f"/prompts/{alices_prompt.id}/rename/", {"name": "mine"})
    assert response.status_code == 404
    alices_prompt.refresh_from_db()
    assert alices_prompt.name != "mine"


def test_owner_and_staff_open_the_prompt(client, alice, staff, alices_prompt):
    for user in (alice, staff):
        client.force_login(user)
        assert client.get(f"/prompts/{alices_prompt.id}/").status_code == 200


def test_malformed_prompt_id_is_not_found(alice_client):
    assert alice_client.get("/prompts/ps_../").status_code == 404
    assert alice_client.get("/prompts/nonsense/").status_code == 404


def test_input_video_is_served_with_byte_ranges(alice_client, alices_prompt, scene):
    url = f"/prompts/{alices_prompt.id}/inputs/color.mp4"
    data = scene["color"].read_bytes()
    whole = alice_client.get(url)
    assert whole.status_code == 200 and b"".join(whole.streaming_content) == data
    part = alice_client.get(url, headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and b"".join(part.streaming_content) == data[10:20]
    assert alice_client.get(f"/prompts/{alices_prompt.id}/inputs/secret.mp4").status_code == 404


def test_rename(alice_client, alices_prompt):
    response = alice_client.post(f"/prompts/{alices_prompt.id}/rename/", {"name": "plaza ball"}, follow=True)
    assert "Renamed." in response.content.decode()
    alices_prompt.refresh_from_db()
    assert alices_prompt.name == "plaza ball" and not alices_prompt.name_is_auto


def test_rename_to_nothing_is_refused(alice_client, alices_prompt):
    old = alices_prompt.name
    response = alice_client.post(f"/prompts/{alices_prompt.id}/rename/", {"name": ""}, follow=True)
    assert "Give a name" in response.content.decode()
    alices_prompt.refresh_from_db()
    assert alices_prompt.name == old


def test_name_poll_continues_while_the_smart_name_is_pending(alice_client, alices_prompt, settings):
    settings.COSMOS = {**settings.COSMOS, "SMART_NAMES": True}
    Prompt.objects.filter(pk=alices_prompt.pk).update(updated_at=alices_prompt.created_at)
    response = alice_client.get(f"/prompts/{alices_prompt.id}/name/")
    assert response.status_code == 200
    assert "naming…" in response.content.decode()


def test_name_poll_stops_once_the_smart_name_arrived(alice_client, alices_prompt):
    Prompt.objects.filter(pk=alices_prompt.pk).update(
        name="red_ball_plaza", updated_at=alices_prompt.created_at + timedelta(seconds=3)
    )
    response = alice_client.get(f"/prompts/{alices_prompt.id}/name/")
    assert response.status_code == 286  # htmx stops polling
    assert "red_ball_plaza" in response.content.decode()


def test_name_poll_gives_up_after_a_minute(alice_client, alices_prompt, settings):
    settings.COSMOS = {**settings.COSMOS, "SMART_NAMES": True}
    old = timezone.now() - timedelta(minutes=5)
    Prompt.objects.filter(pk=alices_prompt.pk).update(created_at=old, updated_at=old)
    assert alice_client.get(f"/prompts/{alices_prompt.id}/name/").status_code == 286


def test_a_capped_search_count_shows_as_at_least():
    from prompts.pages import pager_for
    from prompts.paging import Page

    pager = pager_for(Page(items=list(range(25)), total=1000, limit=25, offset=25, total_exact=False), 2)
    assert pager.num_pages is None and pager.total_label == "1,000+"
    assert pager.has_next and pager.has_previous and (pager.first_item, pager.last_item) == (26, 50)
