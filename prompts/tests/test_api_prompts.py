"""`/api/prompts` (list, search, create): access from every side, and bad input that changes nothing."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from prompts.models import Prompt
from prompts.prepare.models import PreparationJob
from prompts.prepare.services import preparation_run
from prompts.prepare.testing import renders, simple_names, zip_folder  # noqa: F401 (fixtures)
from prompts.services import prompt_create
from prompts.testing import SCENE_FRAMES
from prompts.tests.api_support import ApiClient, assert_error, uploads

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_prompt(alice, scene_dir):
    return prompt_create(user=alice, prompt_text="A futuristic city at night with neon lights", video_dir=scene_dir)


@pytest.fixture
def bob_prompt(bob, scene_dir):
    return prompt_create(user=bob, prompt_text="A quiet forest at dawn", video_dir=scene_dir)


def test_anonymous_gets_401_everywhere():
    anonymous = ApiClient()
    assert_error(anonymous.get("/prompts"), 401)
    assert_error(anonymous.upload("/prompts", {"prompt_text": "x"}), 401)
    assert "Bearer" in anonymous.get("/prompts").json()["detail"]


def test_list_shows_only_own_prompts_to_users_and_all_to_staff(alice, bob, staff, alice_prompt, bob_prompt):
    page = ApiClient(alice).get("/prompts").json()
    assert [item["id"] for item in page["items"]] == [alice_prompt.id]
    assert page["total"] == 1 and page["limit"] == 50 and page["offset"] == 0
    assert [item["id"] for item in ApiClient(bob).get("/prompts").json()["items"]] == [bob_prompt.id]
    assert {item["id"] for item in ApiClient(staff).get("/prompts").json()["items"]} == {alice_prompt.id, bob_prompt.id}


def test_search_is_case_insensitive_and_private(alice, bob, alice_prompt, bob_prompt):
    found = ApiClient(alice).get("/prompts", {"q": "NEON"}).json()
    assert [item["id"] for item in found["items"]] == [alice_prompt.id]
    assert ApiClient(bob).get("/prompts", {"q": "neon"}).json()["total"] == 0
    assert ApiClient(alice).get("/prompts", {"q": "forest"}).json()["total"] == 0


def test_list_pages_and_filters_by_model_type(alice, scene_dir):
    for i in range(3):
        prompt_create(user=alice, prompt_text=f"Scene number {i}", video_dir=scene_dir)
    api = ApiClient(alice)
    page = api.get("/prompts", {"limit": 2, "offset": 2}).json()
    assert page["total"] == 3 and len(page["items"]) == 1
    assert api.get("/prompts", {"model_type": "enhance"}).json()["total"] == 0


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 10**30}, "limit"),
        ({"offset": -1}, "offset"),
        ({"offset": "ten"}, "offset"),
        ({"model_type": "painting"}, "model_type"),
        ({"q": "x" * 501}, "q"),
    ],
)
def test_bad_list_parameters_are_422_naming_the_field(alice, params, field):
    body = assert_error(ApiClient(alice).get("/prompts", params), 422, field)
    assert body["errors"][0]["field"] == field


def test_upload_creates_a_prompt(alice, scene_dir):
    response = ApiClient(alice).upload(
        "/prompts", {"prompt_text": "A red ball bounces", "name": "ball", **uploads(scene_dir, "color", "depth")}
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["id"].startswith("ps_") and body["name"] == "ball" and body["owner"] == "alice"
    assert set(body["inputs"]) == {"color", "depth"}
    assert body["inputs"]["color"]["width"] == 320 and body["inputs"]["color"]["frames"] == SCENE_FRAMES
    assert Prompt.objects.get(pk=body["id"]).owner == alice


def test_uploading_the_same_prompt_again_returns_it_with_200(alice, scene_dir):
    api = ApiClient(alice)
    first = api.upload("/prompts", {"prompt_text": "Same again", **uploads(scene_dir, "color")})
    second = api.upload("/prompts", {"prompt_text": "Same again", **uploads(scene_dir, "color")})
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"] and Prompt.objects.count() == 1


def test_upload_without_color_is_422_and_creates_nothing(alice, scene_dir):
    assert_error(ApiClient(alice).upload("/prompts", {"prompt_text": "No color", **uploads(scene_dir, "depth")}), 422)
    assert not Prompt.objects.exists()


def test_upload_of_a_non_video_is_422_and_creates_nothing(alice):
    fake = SimpleUploadedFile("color.mp4", b"this is not a video at all", content_type="video/mp4")
    body = assert_error(ApiClient(alice).upload("/prompts", {"prompt_text": "Fake", "color": fake}), 422, "color")
    assert "video" in body["detail"].lower()
    assert not Prompt.objects.exists()


def test_upload_with_an_unknown_file_field_is_422(alice, scene_dir):
    data = {"prompt_text": "Extra", **uploads(scene_dir, "color"), "normals": uploads(scene_dir, "depth")["depth"]}
    assert_error(ApiClient(alice).upload("/prompts", data), 422, "normals")
    assert not Prompt.objects.exists()


def test_upload_without_text_is_422_naming_the_field(alice, scene_dir):
    body = assert_error(ApiClient(alice).upload("/prompts", uploads(scene_dir, "color")), 422, "prompt_text")
    assert body["errors"] == [{"field": "prompt_text", "message": "This field is required"}]


def test_empty_text_after_sanitising_is_422(alice, scene_dir):
    assert_error(ApiClient(alice).upload("/prompts", {"prompt_text": "\x00\x01 ", **uploads(scene_dir, "color")}), 422)
    assert not Prompt.objects.exists()


def test_staff_creates_from_a_server_folder(staff, scene_dir):
    response = ApiClient(staff).post("/prompts", {"prompt_text": "From the server", "video_dir": str(scene_dir)})
    assert response.status_code == 201, response.content
    assert set(response.json()["inputs"]) == {"color", "depth", "segmentation"}


def test_a_user_may_not_create_from_a_server_folder(alice, scene_dir):
    response = ApiClient(alice).post("/prompts", {"prompt_text": "Sneaky", "video_dir": str(scene_dir)})
    assert_error(response, 403)
    assert not Prompt.objects.exists()


@pytest.mark.parametrize("video_dir", ["/etc", "../../etc", "/nonexistent/folder"])
def test_server_folder_outside_the_roots_is_422(staff, video_dir):
    assert_error(ApiClient(staff).post("/prompts", {"prompt_text": "Escape", "video_dir": video_dir}), 422, "video_dir")
    assert not Prompt.objects.exists()


def test_malformed_json_is_400_with_a_json_error(staff):
    response = ApiClient(staff).post("/prompts", raw=b'{"prompt_text": ')
    assert_error(response, 400)
    assert "JSON" in response.json()["detail"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"video_dir": "/x"}, "prompt_text"),
        ({"prompt_text": 12, "video_dir": "/x"}, "prompt_text"),
        ({"prompt_text": "x", "video_dir": "/x", "model_type": "painting"}, "model_type"),
        ({"prompt_text": "x", "video_dir": "/x", "colour": "typo"}, "colour"),
    ],
)
def test_wrong_json_fields_are_422_naming_the_field(staff, payload, field):
    assert_error(ApiClient(staff).post("/prompts", payload), 422, field)


def test_json_that_is_not_an_object_is_422(staff):
    assert_error(ApiClient(staff).post("/prompts", [1, 2, 3]), 422)


def test_other_content_types_are_415(alice):
    api = ApiClient(alice)
    assert_error(api.client.post("/api/prompts", "prompt_text=x", content_type="text/plain", headers=api.headers), 415)


# A zip of PNG sequences: prepared in the background, then a prompt.


def test_a_zip_of_png_sequences_becomes_a_prompt(alice, bob, renders, simple_names, tmp_path):
    archive = zip_folder(renders, tmp_path / "shot_010.zip", wrap="shot_010")
    upload = SimpleUploadedFile("shot_010.zip", archive.read_bytes(), content_type="application/zip")
    fields = {"prompt_text": "A bright square crosses a gradient", "zip": upload, "fps": "12", "fit": "crop"}
    response = ApiClient(alice).upload("/prompts", fields)
    assert response.status_code == 202, response.content
    job = response.json()
    assert job["status"] == "pending" and job["url"] == f"/api/preparations/{job['id']}"
    assert_error(ApiClient(bob).get(job["url"].removeprefix("/api")), 404)

    preparation_run(job_id=job["id"])  # what the worker does
    done = ApiClient(alice).get(job["url"].removeprefix("/api")).json()
    assert done["status"] == "succeeded" and done["progress"] == 100, done
    prompt = ApiClient(alice).get(f"/prompts/{done['prompt_id']}").json()
    assert prompt["prompt_text"] == "A bright square crosses a gradient"
    assert prompt["inputs"]["color"]["fps"] == 12


def test_a_zip_that_is_not_one_is_422_and_keeps_nothing(alice):
    fake = SimpleUploadedFile("shot.zip", b"PK\x03\x04 not really", content_type="application/zip")
    assert_error(ApiClient(alice).upload("/prompts", {"prompt_text": "x", "zip": fake}), 422)
    assert not PreparationJob.objects.exists()


def test_a_zip_with_videos_or_bad_options_is_422(alice, renders, scene_dir, tmp_path):
    archive = zip_folder(renders, tmp_path / "shot.zip").read_bytes()

    def zipped():
        return SimpleUploadedFile("shot.zip", archive, content_type="application/zip")

    api = ApiClient(alice)
    both = {"prompt_text": "x", "zip": zipped(), **uploads(scene_dir, "color")}
    assert_error(api.upload("/prompts", both), 422, "color")
    assert_error(api.upload("/prompts", {"prompt_text": "x", "zip": zipped(), "fps": "1000"}), 422, "fps")
    assert_error(api.upload("/prompts", {"prompt_text": "x", "zip": zipped(), "fit": "stretch"}), 422, "fit")
    assert_error(api.upload("/prompts", {"zip": zipped()}), 422, "prompt_text")
    assert not PreparationJob.objects.exists()
