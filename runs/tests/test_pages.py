"""Run pages: list and filters, a run's page, its files (ranges, zip, no traversal), its actions,
starting inference from a prompt's page, the log viewer, the dashboard and the hosts page —
each access rule from both sides. The pipeline itself is not started here (browser tests do)."""

from __future__ import annotations

import io
import zipfile

import pytest

from prompts.models import Prompt
from prompts.services import prompt_create
from runs.models import Run, RunStatus
from runs.selectors import run_output_dir

pytestmark = pytest.mark.django_db


@pytest.fixture
def alices_prompt(alice, scene_dir):
    return prompt_create(user=alice, prompt_text="A red ball in a plaza", video_dir=scene_dir)


def make_run(prompt, *, status=RunStatus.COMPLETED, files=None, **fields) -> Run:
    run = Run.objects.create(
        prompt=prompt,
        owner=prompt.owner,
        status=status,
        execution_config={"weights": {"vis": 0.3, "edge": 0.2, "depth": 0.0, "seg": 0.5}, "num_steps": 35, "seed": 7},
        **fields,
    )
    folder = run_output_dir(run)
    for name, data in (files or {}).items():
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return run


@pytest.fixture
def finished_run(alices_prompt, scene_dir):
    return make_run(
        alices_prompt,
        files={
            "output.mp4": (scene_dir / "color.mp4").read_bytes(),
            "execution.log": b"[09-08 01:15:45|INFO|transfer.py:1:main] final args: {}\nSaved video to output.mp4\n",
            "spec.json": b'{"prompt": "A red ball"}\n',
            "manifest.txt": b"abc 3 output.mp4\n",
        },
    )


def login(client, user):
    client.force_login(user)
    return client


# ---- list ----------------------------------------------------------------------------------


def test_list_shows_the_users_runs_only(client, alice, bob, alices_prompt, scene_dir):
    mine = make_run(alices_prompt)
    bobs = make_run(prompt_create(user=bob, prompt_text="Bob's lake", video_dir=scene_dir))
    page = login(client, alice).get("/runs/").content.decode()
    assert mine.id[:10] in page and bobs.id[:10] not in page


@pytest.mark.parametrize("path", ["/runs/", "/", f"/prompts/{{prompt}}/", "/api/runs"])
def test_lists_of_runs_take_as_many_queries_for_twelve_runs_as_for_two(client, staff, alices_prompt, path):
    """Lists read only the names of a run's owner, host and prompt: nothing is fetched per row."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from gpu.models import GPUHost

    host = GPUHost.objects.create(name="gpu-1", transport="local")
    url = path.format(prompt=alices_prompt.id)
    login(client, staff)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    for status in (RunStatus.RUNNING, RunStatus.COMPLETED):
        make_run(alices_prompt, status=status, host=host)
    few = queries()
    for index in range(10):
        make_run(alices_prompt, status=(RunStatus.RUNNING, RunStatus.COMPLETED)[index % 2], host=host)
    assert queries() == few


def test_list_filters_by_status_and_prompt(client, alice, alices_prompt):
    done = make_run(alices_prompt, status=RunStatus.COMPLETED)
    failed = make_run(alices_prompt, status=RunStatus.FAILED)
    login(client, alice)
    page = client.get("/runs/", {"status": "failed"}).content.decode()
    assert failed.id[:10] in page and done.id[:10] not in page
    page = client.get("/runs/", {"prompt": "ps_none"}).content.decode()
    assert done.id[:10] not in page and "match these filters" in page


def test_staff_filter_by_owner(client, staff, alice, bob, alices_prompt, scene_dir):
    alices = make_run(alices_prompt)
    bobs = make_run(prompt_create(user=bob, prompt_text="Bob's lake", video_dir=scene_dir))
    page = login(client, staff).get("/runs/", {"owner": "bob"}).content.decode()
    assert bobs.id[:10] in page and alices.id[:10] not in page


def test_a_user_cannot_filter_by_someone_elses_name(client, alice, bob, scene_dir):
    bobs = make_run(prompt_create(user=bob, prompt_text="Bob's lake", video_dir=scene_dir))
    page = login(client, alice).get("/runs/", {"owner": "bob"}).content.decode()
    assert bobs.id[:10] not in page


def test_a_batch_is_listed_with_its_summary_by_id_or_name(client, alice, bob, alices_prompt):
    batch = {"batch_id": "bt_0123456789abcdef", "batch_name": "dusk"}
    done, failed = make_run(alices_prompt, **batch), make_run(alices_prompt, status=RunStatus.FAILED, **batch)
    running = make_run(alices_prompt, status=RunStatus.RUNNING, **batch)
    alone = make_run(alices_prompt)
    login(client, alice)
    for key in ("bt_0123456789abcdef", "dusk"):
        page = client.get("/runs/", {"batch": key}).content.decode()
        assert all(run.id[:10] in page for run in (done, failed, running)) and alone.id[:10] not in page
        assert f"Batch <strong>{key}</strong>: 3 runs" in page and "1 completed" in page and "1 failed" in page
        assert "finished" not in page.split("batch-summary")[1].split("</p>")[0]
    assert '?batch=bt_0123456789abcdef"' in client.get(f"/runs/{done.id}/").content.decode()
    page = login(client, bob).get("/runs/", {"batch": "dusk"}).content.decode()
    assert "batch-summary" not in page and done.id[:10] not in page and "match these filters" in page


def test_an_unknown_status_filter_is_ignored(client, alice, alices_prompt):
    run = make_run(alices_prompt)
    response = login(client, alice).get("/runs/", {"status": "bogus"})
    assert response.status_code == 200 and run.id[:10] in response.content.decode()


def test_active_runs_make_the_list_poll(client, alice, alices_prompt):
    make_run(alices_prompt, status=RunStatus.RUNNING, progress={"stage": "diffusion", "step": 6, "steps": 12})
    page = login(client, alice).get("/runs/").content.decode()
    assert 'hx-trigger="every 3s"' in page
    assert 'aria-valuenow="57"' in page


# ---- a run's page ----------------------------------------------------------------------------


def test_run_page_shows_status_parameters_output_and_compare(client, alice, finished_run):
    page = login(client, alice).get(f"/runs/{finished_run.id}/").content.decode()
    assert "Completed" in page
    assert "vis 0.3" in page and "Num steps" in page
    assert f"/runs/{finished_run.id}/files/output.mp4" in page
    assert "data-compare" in page  # input and output side by side
    assert f"/ws/runs/{finished_run.id}/" in page
    assert "Retry" in page and "Cancel run" not in page


def test_run_page_of_another_user_is_not_found(client, bob, staff, finished_run):
    assert login(client, bob).get(f"/runs/{finished_run.id}/").status_code == 404
    assert login(client, staff).get(f"/runs/{finished_run.id}/").status_code == 200


def test_unknown_or_malformed_run_ids_are_not_found(client, alice):
    login(client, alice)
    for run_id in ("rs_doesnotexist", "nonsense", "rs_..%2F"):
        assert client.get(f"/runs/{run_id}/").status_code == 404


# ---- files -----------------------------------------------------------------------------------


def test_output_file_with_range(client, alice, finished_run, scene_dir):
    data = (scene_dir / "color.mp4").read_bytes()
    login(client, alice)
    response = client.get(f"/runs/{finished_run.id}/files/output.mp4", headers={"Range": "bytes=0-99"})
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 0-99/{len(data)}"
    assert b"".join(response.streaming_content) == data[:100]
    bad = client.get(f"/runs/{finished_run.id}/files/output.mp4", headers={"Range": f"bytes={len(data) + 5}-"})
    assert bad.status_code == 416


def test_files_of_another_users_run_are_not_found(client, bob, finished_run):
    login(client, bob)
    assert client.get(f"/runs/{finished_run.id}/files/output.mp4").status_code == 404
    assert client.get(f"/runs/{finished_run.id}/zip/").status_code == 404
    assert client.get(f"/logs/{finished_run.id}/").status_code == 404
    assert client.get(f"/runs/{finished_run.id}/log/lines/").status_code == 404


@pytest.mark.parametrize("name", ["..", ".hidden", "..%2Fsecret_key", "%2E%2E", "missing.mp4"])
def test_no_path_traversal_or_hidden_files(client, alice, finished_run, settings, name):
    (run_output_dir(finished_run) / ".hidden").write_text("x")
    login(client, alice)
    assert client.get(f"/runs/{finished_run.id}/files/{name}").status_code == 404


def test_symlink_out_of_the_run_folder_is_not_served(client, alice, finished_run, settings):
    (run_output_dir(finished_run) / "escape.txt").symlink_to(settings.DATA_DIR / "secret_key")
    assert login(client, alice).get(f"/runs/{finished_run.id}/files/escape.txt").status_code == 404


def test_zip_holds_every_file_with_manifest_spec_and_log(client, alice, finished_run, scene_dir):
    response = login(client, alice).get(f"/runs/{finished_run.id}/zip/")
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="{finished_run.id}.zip"'
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    names = set(archive.namelist())
    assert {f"{finished_run.id}/{n}" for n in ("output.mp4", "manifest.txt", "spec.json", "execution.log")} <= names
    assert archive.read(f"{finished_run.id}/output.mp4") == (scene_dir / "color.mp4").read_bytes()
    assert archive.testzip() is None


def test_log_viewer_and_earlier_lines(client, alice, finished_run):
    login(client, alice)
    page = client.get(f"/logs/{finished_run.id}/")
    assert page.status_code == 200 and "final args" in page.content.decode()
    lines = client.get(f"/runs/{finished_run.id}/log/lines/", {"offset": 0}).json()
    assert lines["lines"][0].startswith("[09-08 01:15:45|INFO|")
    assert 'hx-trigger="every 3s"' not in page.content.decode()  # a finished run's log stands still


def test_the_log_viewer_follows_an_active_runs_log_on_its_last_page(client, alice, alices_prompt):
    run = make_run(alices_prompt, status=RunStatus.RUNNING,
                   files={"execution.log": b"[09-08 01:15:45|INFO|transfer.py:1:main] final args: {}\n"})
    login(client, alice)
    for query, follows in (({}, True), ({"level": "ERROR"}, True), ({"page": "1"}, False)):
        page = client.get(f"/logs/{run.id}/", query).content.decode()
        assert ('hx-trigger="every 3s"' in page) is follows, query
    assert client.get(f"/logs/{run.id}/", {"level": "NOPE"}).status_code == 400


# ---- actions -----------------------------------------------------------------------------


def test_cancel_a_pending_run(client, alice, alices_prompt):
    run = make_run(alices_prompt, status=RunStatus.PENDING)
    response = login(client, alice).post(f"/runs/{run.id}/cancel/", follow=True)
    assert "is cancelled" in response.content.decode()
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED


def test_bob_cannot_cancel_alices_run(client, bob, alices_prompt):
    run = make_run(alices_prompt, status=RunStatus.PENDING)
    assert login(client, bob).post(f"/runs/{run.id}/cancel/").status_code == 404
    run.refresh_from_db()
    assert run.status == RunStatus.PENDING


def test_cancelling_a_finished_run_says_why_not(client, alice, finished_run):
    response = login(client, alice).post(f"/runs/{finished_run.id}/cancel/", follow=True)
    assert response.status_code == 200
    assert "nothing to cancel" in response.content.decode()


def test_actions_need_post(client, alice, finished_run):
    login(client, alice)
    for action in ("cancel", "retry", "upscale", "delete"):
        assert client.get(f"/runs/{finished_run.id}/{action}/").status_code == 405


def test_retry_makes_a_new_run_with_the_same_parameters(client, alice, finished_run):
    response = login(client, alice).post(f"/runs/{finished_run.id}/retry/")
    new = Run.objects.exclude(pk=finished_run.pk).get()
    assert response["Location"] == f"/runs/{new.id}/"
    assert new.execution_config == finished_run.execution_config and new.status == RunStatus.PENDING


def test_upscale_of_a_completed_run(client, alice, finished_run):
    response = login(client, alice).post(f"/runs/{finished_run.id}/upscale/", {"weight": "0.7"})
    upscale = Run.objects.get(parent=finished_run)
    assert response["Location"] == f"/runs/{upscale.id}/"
    assert upscale.model_type == "upscale" and upscale.execution_config["control_weight"] == 0.7


def test_upscale_weight_out_of_range_is_refused(client, alice, finished_run):
    response = login(client, alice).post(f"/runs/{finished_run.id}/upscale/", {"weight": "3"}, follow=True)
    assert "weight" in response.content.decode()
    assert not Run.objects.filter(parent=finished_run).exists()


def test_delete_a_finished_run(client, alice, finished_run, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):  # files go once the rows are gone
        response = login(client, alice).post(f"/runs/{finished_run.id}/delete/")
    assert response["Location"] == f"/prompts/{finished_run.prompt_id}/"
    assert not Run.objects.filter(pk=finished_run.pk).exists()
    assert not run_output_dir(finished_run).exists()


def test_bob_cannot_delete_alices_run(client, bob, finished_run):
    assert login(client, bob).post(f"/runs/{finished_run.id}/delete/").status_code == 404
    assert Run.objects.filter(pk=finished_run.pk).exists()


# ---- starting runs from prompts --------------------------------------------------------------


def test_prompt_page_has_the_inference_form_and_the_runs(client, alice, alices_prompt, finished_run):
    page = login(client, alice).get(f"/prompts/{alices_prompt.id}/").content.decode()
    assert 'name="weight_vis"' in page and 'name="num_steps"' in page and 'name="seed"' in page
    assert finished_run.id[:10] in page
    assert "Enhance prompt" in page and "Delete prompt" in page


def test_start_an_inference_from_the_prompt_page(client, alice, alices_prompt):
    data = {"prompt_ids": [alices_prompt.id], "weight_vis": "0.5", "weight_edge": "0", "weight_depth": "0.25",
            "weight_seg": "0.25", "num_steps": "20", "guidance": "7", "seed": "3", "blur_strength": "medium",
            "canny_threshold": "medium"}
    response = login(client, alice).post("/runs/new/", data)
    run = Run.objects.get()
    assert response["Location"] == f"/runs/{run.id}/"
    assert run.execution_config["num_steps"] == 20 and run.execution_config["weights"]["vis"] == 0.5


def test_all_zero_weights_are_refused_with_the_reason(client, alice, alices_prompt):
    data = {"prompt_ids": [alices_prompt.id], "blur_strength": "medium", "canny_threshold": "medium",
            **{f"weight_{k}": "0" for k in ("vis", "edge", "depth", "seg")}}
    response = login(client, alice).post("/runs/new/", data)
    assert response.status_code == 422
    assert "At least one control weight" in response.content.decode()
    assert not Run.objects.exists()


def test_several_prompts_start_a_batch(client, alice, scene_dir):
    ids = [prompt_create(user=alice, prompt_text=f"Scene {i}", video_dir=scene_dir).id for i in range(2)]
    login(client, alice)
    form = client.get("/runs/new/", {"prompt_ids": ids})
    assert "Run 2 prompts as a batch" in form.content.decode()
    data = {"prompt_ids": ids, "batch_name": "two", "blur_strength": "medium", "canny_threshold": "medium",
            **{f"weight_{k}": "0.25" for k in ("vis", "edge", "depth", "seg")}}
    client.post("/runs/new/", data)
    runs = list(Run.objects.all())
    assert len(runs) == 2 and len({r.batch_id for r in runs}) == 1 and runs[0].batch_name == "two"


def test_bob_cannot_run_alices_prompt(client, bob, alices_prompt):
    data = {"prompt_ids": [alices_prompt.id], "blur_strength": "medium", "canny_threshold": "medium",
            **{f"weight_{k}": "0.25" for k in ("vis", "edge", "depth", "seg")}}
    response = login(client, bob).post("/runs/new/", data, follow=True)
    assert "No prompt" in response.content.decode()
    assert not Run.objects.exists()


def test_enhance_creates_an_enhance_run(client, alice, alices_prompt):
    response = login(client, alice).post(f"/prompts/{alices_prompt.id}/enhance/")
    run = Run.objects.get()
    assert run.model_type == "enhance" and response["Location"] == f"/runs/{run.id}/"


def test_enhance_options_overwrite_and_resolution(client, alice, alices_prompt):
    login(client, alice)
    for bad in ("abc", "10"):
        response = client.post(f"/prompts/{alices_prompt.id}/enhance/", {"resolution": bad}, follow=True)
        assert "resolution" in response.content.decode().lower() and not Run.objects.exists()
    client.post(f"/prompts/{alices_prompt.id}/enhance/", {"mode": "overwrite", "resolution": "480"})
    assert Run.objects.get().execution_config == {"mode": "overwrite", "resolution": 480}


def test_delete_prompt_with_confirmation_form(client, alice, alices_prompt, finished_run):
    login(client, alice)
    assert "data-confirm=" in client.get(f"/prompts/{alices_prompt.id}/").content.decode()
    response = client.post(f"/prompts/{alices_prompt.id}/delete/")
    assert response["Location"] == "/prompts/"
    assert not Prompt.objects.filter(pk=alices_prompt.pk).exists()


def test_a_prompt_with_an_active_run_is_kept(client, alice, alices_prompt):
    make_run(alices_prompt, status=RunStatus.RUNNING)
    response = login(client, alice).post(f"/prompts/{alices_prompt.id}/delete/", follow=True)
    assert Prompt.objects.filter(pk=alices_prompt.pk).exists()
    assert "active" in response.content.decode().lower()


def test_bob_cannot_delete_or_enhance_alices_prompt(client, bob, alices_prompt):
    login(client, bob)
    client.post(f"/prompts/{alices_prompt.id}/delete/")
    client.post(f"/prompts/{alices_prompt.id}/enhance/")
    assert Prompt.objects.filter(pk=alices_prompt.pk).exists()
    assert not Run.objects.exists()


# ---- dashboard and hosts ---------------------------------------------------------------------


def test_dashboard_shows_the_queue_and_recent_outputs(client, alice, alices_prompt, finished_run):
    (run_output_dir(finished_run) / "output.jpg").write_bytes(b"jpg")
    running = make_run(alices_prompt, status=RunStatus.RUNNING, progress={"stage": "vae_decode"})
    page = login(client, alice).get("/").content.decode()
    assert f"/runs/{running.id}/" in page and 'aria-valuenow="90"' in page
    assert f"/runs/{finished_run.id}/files/output.jpg" in page


def test_dashboard_hides_other_users_runs(client, bob, alices_prompt, finished_run):
    running = make_run(alices_prompt, status=RunStatus.RUNNING)
    page = login(client, bob).get("/").content.decode()
    assert running.id not in page and finished_run.id not in page


def test_everyone_sees_the_hosts_only_staff_get_the_buttons(client, alice, staff, local_host):
    page = login(client, alice).get("/hosts/").content.decode()
    assert local_host.name in page and "simulated" in page
    assert "Kill all containers" not in page and "Check host" not in page
    page = login(client, staff).get("/hosts/").content.decode()
    assert "Kill all containers" in page and "Check host" in page


def test_live_host_status_shows_the_simulated_gpu(client, alice, local_host):
    page = login(client, alice).get("/hosts/live/").content.decode()
    assert "cosmos-sim" in page
    assert "No Cosmos container running" in page


def test_a_user_cannot_kill_or_check_a_host(client, alice, local_host):
    login(client, alice)
    response = client.post(f"/hosts/{local_host.name}/kill/", follow=True)
    assert "Only staff" in response.content.decode()
    response = client.post(f"/hosts/{local_host.name}/check/", follow=True)
    assert "staff" in response.content.decode()
    local_host.refresh_from_db()
    assert local_host.last_checked_at is None


def test_staff_check_a_host_and_see_the_result(client, staff, local_host):
    response = login(client, staff).post(f"/hosts/{local_host.name}/check/", follow=True)
    page = response.content.decode()
    assert f"Checked {local_host.name}" in page
    assert "Check result" in page
    local_host.refresh_from_db()
    assert local_host.last_check["ok"] is True


def test_staff_kill_all_containers_of_a_host(client, staff, local_host):
    response = login(client, staff).post(f"/hosts/{local_host.name}/kill/", follow=True)
    assert f"Killed 0 containers on {local_host.name}" in response.content.decode()


def test_unknown_host_is_a_clear_message(client, staff):
    response = login(client, staff).post("/hosts/nope/check/", follow=True)
    assert "No GPU host named &#x27;nope&#x27;" in response.content.decode()


def test_the_queue_refreshes_alone(client, alice, alices_prompt):
    running = make_run(alices_prompt, status=RunStatus.RUNNING)
    response = login(client, alice).get("/", headers={"HX-Request": "true", "HX-Target": "dashboard-queue"})
    page = response.content.decode()
    assert f"/runs/{running.id}/" in page and "Recent outputs" not in page and "<html" not in page
