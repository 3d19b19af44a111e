"""`/api/runs` and a prompt's run-related endpoints, from alice's, bob's, staff's and anonymous' side.

Runs are submitted through the API (the service layer behind it is real); states a run reaches
on a GPU host are set on the row, and its output folder is written with real files.
"""

from __future__ import annotations

import shutil
import threading

import pytest
from django.db import connection

from prompts.models import Prompt
from prompts.tests.api_support import ApiClient, assert_error
from runs.models import Run, RunStatus
from runs.selectors import run_output_dir

pytestmark = pytest.mark.django_db

LOG_LINES = [f"[09-08 01:15:{i:02d}|INFO|transfer.py:187:main] step {i}" for i in range(30)]


@pytest.fixture
def prompt(alice, make_prompt):
    return make_prompt(alice)


def submit(api: ApiClient, prompt_id: str, **params) -> dict:
    response = api.post("/runs", {"prompt_id": prompt_id, **params})
    assert response.status_code == 201, response.content
    return response.json()["runs"][0]


@pytest.fixture
def finished_run(as_alice, prompt, scene_dir):
    """A completed inference run of alice's with an output video and a log."""
    run = Run.objects.get(pk=submit(as_alice, prompt.id)["id"])
    folder = run_output_dir(run)
    folder.mkdir(parents=True)
    shutil.copy(scene_dir / "color.mp4", folder / "output.mp4")
    (folder / "execution.log").write_text("\n".join(LOG_LINES) + "\n")
    Run.objects.filter(pk=run.pk).update(status=RunStatus.COMPLETED)
    return Run.objects.get(pk=run.pk)


def set_status(run_id: str, status: str) -> None:
    Run.objects.filter(pk=run_id).update(status=status)


# Submitting.


def test_alice_submits_an_inference_with_her_parameters(as_alice, prompt):
    response = as_alice.post("/runs", {"prompt_id": prompt.id, "weights": {"vis": 0.5, "edge": 0.2}, "num_steps": 20})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["dry_run"] is False and body["replayed"] is False
    [run] = body["runs"]
    assert run["id"].startswith("rs_") and run["status"] == "pending" and run["owner"] == "alice"
    assert run["execution_config"]["weights"] == {"vis": 0.5, "edge": 0.2, "depth": 0.0, "seg": 0.0}
    assert run["execution_config"]["num_steps"] == 20
    assert Run.objects.get(pk=run["id"]).prompt == prompt


def test_several_prompts_make_one_batch(as_alice, alice, make_prompt):
    ids = [make_prompt(alice, f"street number {i}").id for i in range(3)]
    body = as_alice.post("/runs", {"prompt_ids": ids, "batch_name": "streets", "guidance": 7}).json()
    assert len(body["runs"]) == 3 and body["batch_name"] == "streets" and body["batch_id"]
    assert {run["batch_id"] for run in body["runs"]} == {body["batch_id"]}
    assert {run["prompt_id"] for run in body["runs"]} == set(ids)


def test_dry_run_returns_the_plan_and_creates_nothing(as_alice, prompt):
    response = as_alice.post("/runs", {"prompt_id": prompt.id, "dry_run": True})
    assert response.status_code == 200
    body = response.json()
    assert body["dry_run"] is True and body["plan"][0]["spec"]["prompt"] == prompt.prompt_text
    assert body["runs"][0]["created_at"] is None
    assert not Run.objects.exists()


def test_bob_cannot_run_alices_prompt(as_bob, prompt):
    assert_error(as_bob.post("/runs", {"prompt_id": prompt.id}), 404)
    assert not Run.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"weights": {"vis": 1.5}}, "weights.vis"),
        ({"weights": {"vis": 0, "edge": 0, "depth": 0, "seg": 0}}, "weights"),
        ({"weights": {"glow": 0.5}}, "weights.glow"),
        ({"num_steps": 0}, "num_steps"),
        ({"num_steps": 10**40}, "num_steps"),
        ({"num_steps": "many"}, "num_steps"),
        ({"seed": -1}, "seed"),
        ({"seed": 2**64}, "seed"),
        ({"guidance": "NaN"}, "guidance"),
        ({"blur_strength": "extreme"}, "blur_strength"),
        ({"priority": 10**6}, "priority"),
        ({"num_step": 20}, "num_step"),
        ({"batch_name": "../../etc"}, "batch_name"),
    ],
)
def test_bad_parameters_are_422_naming_the_field_and_create_nothing(as_alice, prompt, body, field):
    assert_error(as_alice.post("/runs", {"prompt_id": prompt.id, **body}), 422, field)
    assert not Run.objects.exists()


def test_a_run_needs_one_of_prompt_id_and_prompt_ids(as_alice, prompt):
    assert_error(as_alice.post("/runs", {}), 422, "prompt_ids")
    assert_error(as_alice.post("/runs", {"prompt_id": prompt.id, "prompt_ids": [prompt.id]}), 422, "prompt_ids")
    assert_error(as_alice.post("/runs", {"prompt_ids": []}), 422, "prompt_ids")
    assert not Run.objects.exists()


def test_unknown_prompt_ids_are_404_and_malformed_ones_422(as_alice):
    assert_error(as_alice.post("/runs", {"prompt_id": "ps_doesnotexist"}), 404)
    assert_error(as_alice.post("/runs", {"prompt_id": "'; DROP TABLE runs_run; --"}), 422, "prompt_id")
    assert_error(as_alice.post("/runs", {"prompt_ids": ["ps_ok", " "]}), 422, "prompt_ids.1")


def test_malformed_json_is_400_and_a_non_object_422(as_alice):
    body = assert_error(as_alice.post("/runs", raw=b'{"prompt_id": "ps_x",'), 400)
    assert "JSON" in body["detail"]
    assert_error(as_alice.post("/runs", [1, 2]), 422)
    assert_error(as_alice.post("/runs", raw=b"\xff\xfe\x00"), 400)


# Idempotency-Key.


def test_same_idempotency_key_and_body_returns_the_same_runs(as_alice, prompt):
    body = {"prompt_id": prompt.id, "num_steps": 20}
    first = as_alice.post("/runs", body, **{"Idempotency-Key": "job-42"})
    again = as_alice.post("/runs", {"num_steps": 20, "prompt_id": prompt.id}, **{"Idempotency-Key": "job-42"})
    assert first.status_code == again.status_code == 201
    assert [r["id"] for r in again.json()["runs"]] == [r["id"] for r in first.json()["runs"]]
    assert again.json()["replayed"] is True and first.json()["replayed"] is False
    assert Run.objects.count() == 1


def test_same_idempotency_key_with_another_body_is_409(as_alice, prompt):
    as_alice.post("/runs", {"prompt_id": prompt.id}, **{"Idempotency-Key": "job-42"})
    other = as_alice.post("/runs", {"prompt_id": prompt.id, "seed": 7}, **{"Idempotency-Key": "job-42"})
    body = assert_error(other, 409)
    assert body["field"] == "Idempotency-Key"
    assert Run.objects.count() == 1


def test_idempotency_keys_belong_to_their_user(as_alice, as_bob, bob, make_prompt, prompt):
    bobs = make_prompt(bob, "bob's own prompt")
    as_alice.post("/runs", {"prompt_id": prompt.id}, **{"Idempotency-Key": "shared-key"})
    response = as_bob.post("/runs", {"prompt_id": bobs.id}, **{"Idempotency-Key": "shared-key"})
    assert response.status_code == 201 and response.json()["replayed"] is False
    assert Run.objects.filter(owner=bob).count() == 1


def test_a_refused_request_does_not_use_up_its_key(as_alice, prompt):
    refused = as_alice.post("/runs", {"prompt_id": prompt.id, "weights": {"vis": 0}}, **{"Idempotency-Key": "k1"})
    assert_error(refused, 422)
    response = as_alice.post("/runs", {"prompt_id": prompt.id}, **{"Idempotency-Key": "k1"})
    assert response.status_code == 201 and response.json()["replayed"] is False


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_create_the_runs_once(alice, make_prompt):
    prompt = make_prompt(alice)
    clients = [ApiClient(alice) for _ in range(4)]
    barrier = threading.Barrier(len(clients))
    responses = []

    def send(api: ApiClient) -> None:
        barrier.wait()
        try:
            responses.append(api.post("/runs", {"prompt_id": prompt.id}, **{"Idempotency-Key": "race"}))
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(api,)) for api in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.status_code for r in responses] == [201] * 4
    assert len({r.json()["runs"][0]["id"] for r in responses}) == 1
    assert sorted(r.json()["replayed"] for r in responses) == [False, True, True, True]
    assert Run.objects.count() == 1


@pytest.mark.parametrize("key", ["has space", "x" * 201, "tab\there"])
def test_a_malformed_idempotency_key_is_422(as_alice, prompt, key):
    assert_error(as_alice.post("/runs", {"prompt_id": prompt.id}, **{"Idempotency-Key": key}), 422)
    assert not Run.objects.exists()


# Listing and reading.


def test_runs_list_is_private_and_filters(as_alice, as_bob, as_staff, prompt, finished_run):
    pending = submit(as_alice, prompt.id)
    page = as_alice.get("/runs").json()
    assert {item["id"] for item in page["items"]} == {pending["id"], finished_run.id} and page["total"] == 2
    assert [item["id"] for item in as_alice.get("/runs", {"status": "completed"}).json()["items"]] == [finished_run.id]
    assert as_alice.get("/runs", {"prompt_id": prompt.id, "model_type": "upscale"}).json()["total"] == 0
    assert as_bob.get("/runs").json()["total"] == 0
    assert as_staff.get("/runs").json()["total"] == 2


@pytest.mark.parametrize(
    ("params", "field"), [({"status": "exploded"}, "status"), ({"limit": 501}, "limit"), ({"offset": 10**19}, "offset")]
)
def test_bad_run_filters_are_422(as_alice, params, field):
    assert_error(as_alice.get("/runs", params), 422, field)


def test_run_detail_lists_its_files(as_alice, finished_run):
    body = as_alice.get(f"/runs/{finished_run.id}").json()
    assert body["status"] == "completed" and "output_dir" not in body
    files = {f["name"]: f for f in body["files"]}
    assert set(files) == {"execution.log", "output.mp4"}
    assert files["output.mp4"]["url"] == f"/api/runs/{finished_run.id}/files/output.mp4"


def test_bob_gets_404_for_everything_of_alices_run(as_bob, finished_run):
    rid = finished_run.id
    assert_error(as_bob.get(f"/runs/{rid}"), 404)
    assert_error(as_bob.get(f"/runs/{rid}/logs"), 404)
    assert_error(as_bob.get(f"/runs/{rid}/files/output.mp4"), 404)
    assert_error(as_bob.post(f"/runs/{rid}/cancel"), 404)
    assert_error(as_bob.post(f"/runs/{rid}/retry"), 404)
    assert_error(as_bob.post(f"/runs/{rid}/upscale"), 404)
    assert_error(as_bob.delete(f"/runs/{rid}"), 404)
    assert Run.objects.filter(pk=rid, status=RunStatus.COMPLETED).exists()
    assert Run.objects.count() == 1


def test_staff_sees_and_acts_on_alices_run(as_staff, finished_run):
    assert as_staff.get(f"/runs/{finished_run.id}").status_code == 200
    assert as_staff.post(f"/runs/{finished_run.id}/retry").status_code == 201


@pytest.mark.parametrize("run_id", ["rs_0000", "not-an-id", "rs_" + "a" * 300, "%00"])
def test_unknown_run_ids_are_404(as_alice, run_id):
    assert_error(as_alice.get(f"/runs/{run_id}"), 404)


# Actions.


def test_cancel_a_pending_run_then_cancelling_again_is_409(as_alice, prompt):
    run = submit(as_alice, prompt.id)
    response = as_alice.post(f"/runs/{run['id']}/cancel")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert_error(as_alice.post(f"/runs/{run['id']}/cancel"), 409)


def test_retry_makes_a_new_run_with_the_same_parameters(as_alice, prompt):
    run = submit(as_alice, prompt.id, seed=99)
    assert_error(as_alice.post(f"/runs/{run['id']}/retry"), 409)  # still pending
    set_status(run["id"], RunStatus.FAILED)
    response = as_alice.post(f"/runs/{run['id']}/retry")
    assert response.status_code == 201
    retried = response.json()
    assert retried["id"] != run["id"] and retried["execution_config"]["seed"] == 99 and retried["status"] == "pending"


def test_upscale_a_completed_run(as_alice, finished_run):
    response = as_alice.post(f"/runs/{finished_run.id}/upscale", {"weight": 0.7})
    assert response.status_code == 201, response.content
    [upscale] = response.json()["runs"]
    assert upscale["model_type"] == "upscale" and upscale["parent_id"] == finished_run.id
    assert upscale["execution_config"]["control_weight"] == 0.7


def test_upscale_of_an_unfinished_run_is_409(as_alice, prompt):
    run = submit(as_alice, prompt.id)
    assert_error(as_alice.post(f"/runs/{run['id']}/upscale"), 409)
    assert Run.objects.count() == 1


def test_upscale_weight_out_of_range_is_422(as_alice, finished_run):
    assert_error(as_alice.post(f"/runs/{finished_run.id}/upscale", {"weight": 2}), 422, "weight")
    assert Run.objects.count() == 1


def test_delete_an_active_run_is_409_unless_forced(as_alice, prompt):
    run = submit(as_alice, prompt.id)
    assert_error(as_alice.delete(f"/runs/{run['id']}"), 409)
    assert as_alice.delete(f"/runs/{run['id']}", {"force": "true"}).status_code == 204
    assert not Run.objects.exists()


def test_delete_a_finished_run_removes_its_folder(as_alice, finished_run, django_capture_on_commit_callbacks):
    folder = run_output_dir(finished_run)
    with django_capture_on_commit_callbacks(execute=True):
        assert as_alice.delete(f"/runs/{finished_run.id}").status_code == 204
    assert not folder.exists() and not Run.objects.exists()
    assert_error(as_alice.get(f"/runs/{finished_run.id}"), 404)


# A prompt with its runs.


def test_prompt_detail_has_its_runs_for_alice_and_staff_only(as_alice, as_bob, as_staff, prompt, finished_run):
    body = as_alice.get(f"/prompts/{prompt.id}").json()
    assert body["id"] == prompt.id and [run["id"] for run in body["runs"]] == [finished_run.id]
    assert as_staff.get(f"/prompts/{prompt.id}").status_code == 200
    assert_error(as_bob.get(f"/prompts/{prompt.id}"), 404)
    assert_error(as_alice.get("/prompts/ps_unknown"), 404)


def test_delete_a_prompt_with_an_active_run_is_409_unless_forced(as_alice, as_bob, prompt):
    submit(as_alice, prompt.id)
    assert_error(as_bob.delete(f"/prompts/{prompt.id}"), 404)
    assert_error(as_alice.delete(f"/prompts/{prompt.id}"), 409)
    assert Prompt.objects.filter(pk=prompt.pk).exists()
    assert as_alice.delete(f"/prompts/{prompt.id}", {"force": "true"}).status_code == 204
    assert not Prompt.objects.exists() and not Run.objects.exists()


def test_enhance_starts_an_enhance_run(as_alice, as_bob, prompt):
    assert_error(as_bob.post(f"/prompts/{prompt.id}/enhance"), 404)
    dry = as_alice.post(f"/prompts/{prompt.id}/enhance", {"dry_run": True})
    assert dry.status_code == 200 and not Run.objects.exists()
    response = as_alice.post(f"/prompts/{prompt.id}/enhance")
    assert response.status_code == 201
    assert response.json()["runs"][0]["model_type"] == "enhance"
    assert response.json()["runs"][0]["execution_config"]["mode"] == "new"


def test_enhance_at_a_resolution_and_out_of_range_is_422(as_alice, prompt):
    assert_error(as_alice.post(f"/prompts/{prompt.id}/enhance", {"resolution": 16}), 422, "resolution")
    assert not Run.objects.exists()
    response = as_alice.post(f"/prompts/{prompt.id}/enhance", {"resolution": 480})
    assert response.status_code == 201 and response.json()["runs"][0]["execution_config"]["resolution"] == 480


def test_runs_of_a_batch_by_id_or_name(as_alice, as_bob, prompt):
    Run.objects.create(prompt=prompt, owner=prompt.owner, batch_id="bt_00aa11bb22cc33dd", batch_name="dusk")
    submit(as_alice, prompt.id)
    for key in ("bt_00aa11bb22cc33dd", "dusk"):
        assert as_alice.get("/runs", {"batch": key}).json()["total"] == 1
    assert as_bob.get("/runs", {"batch": "dusk"}).json()["total"] == 0


def test_enhance_overwrite_of_a_prompt_with_runs_is_409(as_alice, prompt):
    submit(as_alice, prompt.id)
    assert_error(as_alice.post(f"/prompts/{prompt.id}/enhance", {"create_new": False}), 409)
    assert Run.objects.count() == 1


# Logs and files.


def test_logs_are_read_by_offset_until_finished(as_alice, finished_run):
    first = as_alice.get(f"/runs/{finished_run.id}/logs", {"max_bytes": 1024}).json()
    assert first["offset"] == 0 and first["lines"] == LOG_LINES[: len(first["lines"])]
    assert 0 < len(first["lines"]) < len(LOG_LINES) and first["finished"] is True
    lines, offset = list(first["lines"]), first["next_offset"]
    while True:
        chunk = as_alice.get(f"/runs/{finished_run.id}/logs", {"offset": offset, "max_bytes": 1024}).json()
        if not chunk["lines"]:
            break
        lines += chunk["lines"]
        offset = chunk["next_offset"]
    assert lines == LOG_LINES


def test_logs_of_a_run_without_a_log_are_empty(as_alice, prompt):
    run = submit(as_alice, prompt.id)
    body = as_alice.get(f"/runs/{run['id']}/logs").json()
    assert body == {"lines": [], "offset": 0, "next_offset": 0, "status": "pending", "finished": False}


@pytest.mark.parametrize("params", [{"offset": -1}, {"offset": "x"}, {"max_bytes": 10**12}])
def test_bad_log_parameters_are_422(as_alice, finished_run, params):
    assert_error(as_alice.get(f"/runs/{finished_run.id}/logs", params), 422)


def test_output_download_supports_ranges(as_alice, finished_run):
    video = (run_output_dir(finished_run) / "output.mp4").read_bytes()
    whole = as_alice.get(f"/runs/{finished_run.id}/files/output.mp4")
    assert whole.status_code == 200 and b"".join(whole.streaming_content) == video
    assert whole["Content-Type"] == "video/mp4"
    part = as_alice.get(f"/runs/{finished_run.id}/files/output.mp4", Range="bytes=100-199")
    assert part.status_code == 206 and b"".join(part.streaming_content) == video[100:200]
    assert part["Content-Range"] == f"bytes 100-199/{len(video)}"
    assert as_alice.get(f"/runs/{finished_run.id}/files/output.mp4", Range=f"bytes={len(video)}-").status_code == 416
    assert as_alice.head(f"/runs/{finished_run.id}/files/output.mp4").status_code == 200


@pytest.mark.parametrize("name", ["missing.mp4", "..", ".hidden", "%2e%2e%2fsecret", "..%2F..%2Fsecret_key"])
def test_files_outside_the_run_or_missing_are_404(as_alice, finished_run, name):
    (run_output_dir(finished_run) / ".hidden").write_text("x")
    assert_error(as_alice.get(f"/runs/{finished_run.id}/files/{name}"), 404)


def test_a_symlink_out_of_the_run_folder_is_not_served(as_alice, finished_run, settings):
    (run_output_dir(finished_run) / "leak.txt").symlink_to(settings.DATA_DIR / "secret_key")
    assert_error(as_alice.get(f"/runs/{finished_run.id}/files/leak.txt"), 404)
    assert "leak.txt" not in {f["name"] for f in as_alice.get(f"/runs/{finished_run.id}").json()["files"]}
