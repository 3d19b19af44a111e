"""`POST /api/runs` beyond one prompt with shared parameters: a batch whose entries carry their own
parameters, and create-and-run (a new prompt and its run in one call, by upload or, for staff, from
a server folder). From alice's, bob's, staff's and anonymous' side; refusals change nothing."""

from __future__ import annotations

import json

import pytest

from prompts.models import Prompt
from prompts.tests.api_support import ApiClient, assert_error, uploads
from runs.models import Run

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_prompts(alice, make_prompt):
    return make_prompt(alice, "a city at night"), make_prompt(alice, "a forest at dawn")


def stored_inputs(settings) -> list:
    return sorted(settings.INPUTS_DIR.glob("*.mp4")) if settings.INPUTS_DIR.exists() else []


# A batch with per-prompt parameters.


def test_alice_runs_a_batch_where_each_prompt_has_its_own_weights(as_alice, two_prompts):
    city, forest = two_prompts
    body = {
        "prompts": [
            {"prompt_id": city.id, "weights": {"vis": 0.7, "edge": 0.1}},
            {"prompt_id": forest.id, "weights": {"depth": 0.6}, "seed": 9},
            {"prompt_id": city.id},
        ],
        "weights": {"seg": 0.5},
        "num_steps": 25,
        "batch_name": "sweep",
    }
    response = as_alice.post("/runs", body)
    assert response.status_code == 201, response.content
    runs = response.json()["runs"]
    assert [run["prompt_id"] for run in runs] == [city.id, forest.id, city.id]
    configs = [run["execution_config"] for run in runs]
    assert [config["weights"] for config in configs] == [
        {"vis": 0.7, "edge": 0.1, "depth": 0.0, "seg": 0.0},
        {"vis": 0.0, "edge": 0.0, "depth": 0.6, "seg": 0.0},
        {"vis": 0.0, "edge": 0.0, "depth": 0.0, "seg": 0.5},
    ]
    assert [config["seed"] for config in configs] == [1, 9, 1] and {c["num_steps"] for c in configs} == {25}
    assert {run["batch_name"] for run in runs} == {"sweep"} and Run.objects.count() == 3


def test_a_dry_run_of_entries_shows_one_container_per_seed(as_alice, two_prompts):
    city, forest = two_prompts
    body = {
        "prompts": [
            {"prompt_id": city.id, "weights": {"vis": 0.7}},
            {"prompt_id": forest.id, "weights": {"edge": 0.3}},
            {"prompt_id": forest.id, "seed": 4},
        ],
        "dry_run": True,
    }
    response = as_alice.post("/runs", body)
    assert response.status_code == 200, response.content
    batch, alone = response.json()["plan"]
    assert batch["kind"] == "batch" and len(batch["runs"]) == 2
    assert alone["kind"] == "inference" and alone["spec"]["seed"] == 4
    assert not Run.objects.exists()


def test_bob_cannot_put_alices_prompt_in_his_batch(as_bob, bob, make_prompt, two_prompts):
    bobs = make_prompt(bob, "bob's street")
    body = {"prompts": [{"prompt_id": bobs.id}, {"prompt_id": two_prompts[0].id, "seed": 2}]}
    body_out = assert_error(as_bob.post("/runs", body), 404, "prompts.1.prompt_id")
    assert two_prompts[0].id in body_out["detail"]
    assert not Run.objects.exists()
    assert as_bob.post("/runs", {"prompts": [{"prompt_id": bobs.id, "seed": 2}]}).status_code == 201


def test_staff_runs_entries_of_alices_prompts_for_alice(as_staff, alice, two_prompts):
    response = as_staff.post("/runs", {"prompts": [{"prompt_id": p.id, "seed": 3} for p in two_prompts]})
    assert response.status_code == 201
    assert {run["owner"] for run in response.json()["runs"]} == {"alice"}


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ({"weights": {"vis": 1.5}}, "prompts.1.weights.vis"),
        ({"weights": {"vis": 0}}, "prompts.1.weights"),
        ({"num_steps": 0}, "prompts.1.num_steps"),
        ({"batch_name": "x"}, "prompts.1.batch_name"),
        ({"prompt_id": None}, "prompts.1.prompt_id"),
        ({"prompt_id": "not an id"}, "prompts.1.prompt_id"),
    ],
)
def test_a_bad_entry_is_422_naming_it_and_creates_nothing(as_alice, two_prompts, entry, field):
    city, forest = two_prompts
    body = {"prompts": [{"prompt_id": city.id}, {"prompt_id": forest.id, **entry}]}
    assert_error(as_alice.post("/runs", body), 422, field)
    assert not Run.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {"prompts": []},
        {"prompts": {"prompt_id": "ps_x"}},
        {"prompts": [{"prompt_id": "ps_x"}], "prompt_ids": ["ps_x"]},
        {"prompt_id": "ps_x", "prompt": {"prompt_text": "x", "video_dir": "/tmp"}},
    ],
)
def test_prompts_named_in_no_or_two_ways_is_422(as_alice, body):
    assert_error(as_alice.post("/runs", body), 422)
    assert not Run.objects.exists()


def test_an_idempotency_key_replays_a_batch_of_entries(as_alice, two_prompts):
    body = {"prompts": [{"prompt_id": p.id, "weights": {"vis": 0.4}} for p in two_prompts]}
    first = as_alice.post("/runs", body, **{"Idempotency-Key": "entries-1"})
    again = as_alice.post("/runs", body, **{"Idempotency-Key": "entries-1"})
    assert first.status_code == again.status_code == 201 and again.json()["replayed"] is True
    assert [r["id"] for r in again.json()["runs"]] == [r["id"] for r in first.json()["runs"]]
    assert Run.objects.count() == 2


# Create-and-run by upload.


def run_form(scene_dir, **fields) -> dict:
    return {"prompt_text": "A red tram in the rain", **fields, **uploads(scene_dir)}


def test_alice_creates_and_runs_a_prompt_by_upload(as_alice, scene_dir):
    form = run_form(scene_dir, weights=json.dumps({"vis": 0.4, "seg": 0.6}), num_steps="30", name="tram")
    response = as_alice.upload("/runs", form)
    assert response.status_code == 201, response.content
    body = response.json()
    prompt, [run] = body["prompt"], body["runs"]
    assert prompt["owner"] == "alice" and prompt["name"] == "tram" and set(prompt["inputs"]) == {
        "color", "depth", "segmentation"
    }
    assert run["prompt_id"] == prompt["id"] and run["status"] == "pending" and run["owner"] == "alice"
    assert run["execution_config"]["weights"] == {"vis": 0.4, "edge": 0.0, "depth": 0.0, "seg": 0.6}
    assert run["execution_config"]["num_steps"] == 30
    assert Prompt.objects.get(pk=prompt["id"]).owner.username == "alice"


def test_the_uploaded_prompts_negative_prompt_is_its_runs(as_alice, scene_dir):
    body = as_alice.upload("/runs", run_form(scene_dir, negative_prompt="blurry")).json()
    assert body["prompt"]["negative_prompt"] == "blurry"
    assert body["runs"][0]["execution_config"]["negative_prompt"] == "blurry"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"weights": json.dumps({"vis": 0, "edge": 0})}, "weights"),
        ({"weights": json.dumps({"vis": 3})}, "weights.vis"),
        ({"weights": "not json"}, "weights"),
        ({"num_steps": "0"}, "num_steps"),
        ({"seed": "x"}, "seed"),
        ({"priority": "1000"}, "priority"),
        ({"batch_name": "../up"}, "batch_name"),
        ({"glow": "1"}, "glow"),
        ({"dry_run": "true"}, "dry_run"),
        ({"prompt_text": ""}, "prompt_text"),
    ],
)
def test_a_bad_run_parameter_creates_no_prompt_and_stores_no_file(as_alice, scene_dir, settings, fields, field):
    assert_error(as_alice.upload("/runs", run_form(scene_dir, **fields)), 422, field)
    assert not Prompt.objects.exists() and not Run.objects.exists()
    assert stored_inputs(settings) == []


def test_a_broken_video_creates_no_prompt_and_stores_no_file(as_alice, scene_dir, settings):
    form = run_form(scene_dir)
    form["depth"].file.seek(0)
    form["depth"].file.truncate(0)
    form["depth"].file.write(b"this is no video")
    form["depth"].file.seek(0)
    assert_error(as_alice.upload("/runs", form), 422, "depth")
    assert not Prompt.objects.exists() and stored_inputs(settings) == []


def test_upload_without_color_or_with_a_zip_is_422(as_alice, scene_dir):
    form = run_form(scene_dir)
    del form["color"]
    assert_error(as_alice.upload("/runs", form), 422, "color")
    form = run_form(scene_dir)
    form["zip"] = form.pop("segmentation")
    assert_error(as_alice.upload("/runs", form), 422, "zip")
    assert not Prompt.objects.exists()


def test_anonymous_cannot_create_and_run(scene_dir, settings):
    assert_error(ApiClient().upload("/runs", run_form(scene_dir)), 401)
    assert not Prompt.objects.exists() and stored_inputs(settings) == []


def test_the_same_upload_twice_is_the_same_prompt_with_a_second_run(as_alice, as_bob, scene_dir):
    first = as_alice.upload("/runs", run_form(scene_dir)).json()
    again = as_alice.upload("/runs", run_form(scene_dir))
    assert again.status_code == 201 and again.json()["prompt"]["id"] == first["prompt"]["id"]
    assert Run.objects.filter(prompt_id=first["prompt"]["id"]).count() == 2
    # Bob's identical upload is bob's own prompt: he never sees or reuses alice's.
    bobs = as_bob.upload("/runs", run_form(scene_dir)).json()
    assert bobs["prompt"]["id"] != first["prompt"]["id"] and bobs["prompt"]["owner"] == "bob"


def test_an_idempotency_key_replays_an_upload_with_the_same_videos(as_alice, scene_dir, other_scene):
    key = {"Idempotency-Key": "upload-1"}
    first = as_alice.upload("/runs", run_form(scene_dir, seed="4"), **key)
    again = as_alice.upload("/runs", run_form(scene_dir, seed="4"), **key)
    assert first.status_code == again.status_code == 201
    assert again.json()["replayed"] is True and again.json()["prompt"]["id"] == first.json()["prompt"]["id"]
    assert [r["id"] for r in again.json()["runs"]] == [r["id"] for r in first.json()["runs"]]
    assert_error(as_alice.upload("/runs", run_form(other_scene, seed="4"), **key), 409, "Idempotency-Key")
    assert Run.objects.count() == 1 and Prompt.objects.count() == 1


# Create-and-run from a server folder (staff).


def test_staff_creates_and_runs_a_prompt_from_a_server_folder(as_staff, staff, scene_dir):
    body = {"prompt": {"prompt_text": "A harbour at dusk", "video_dir": str(scene_dir)}, "weights": {"edge": 0.5}}
    response = as_staff.post("/runs", body)
    assert response.status_code == 201, response.content
    prompt, [run] = response.json()["prompt"], response.json()["runs"]
    assert prompt["owner"] == staff.username and run["prompt_id"] == prompt["id"]
    assert run["execution_config"]["weights"]["edge"] == 0.5


def test_alice_may_not_create_from_a_server_folder(as_alice, scene_dir):
    body = {"prompt": {"prompt_text": "A harbour at dusk", "video_dir": str(scene_dir)}}
    assert_error(as_alice.post("/runs", body), 403)
    assert not Prompt.objects.exists() and not Run.objects.exists()


def test_a_server_folder_create_and_run_refuses_a_dry_run_and_bad_weights(as_staff, scene_dir, settings):
    new = {"prompt_text": "A harbour at dusk", "video_dir": str(scene_dir)}
    assert_error(as_staff.post("/runs", {"prompt": new, "dry_run": True}), 422, "dry_run")
    assert_error(as_staff.post("/runs", {"prompt": new, "weights": {"vis": 0}}), 422, "weights")
    assert_error(as_staff.post("/runs", {"prompt": {**new, "video_dir": "/etc"}}), 422)
    assert not Prompt.objects.exists() and stored_inputs(settings) == []


def test_other_content_types_are_415(as_alice):
    response = as_alice.client.post("/api/runs", "prompt_id=ps_x", content_type="text/plain", headers=as_alice.headers)
    assert_error(response, 415)
