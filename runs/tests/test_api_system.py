"""`/api/status`, `/api/hosts/{name}/kill` and `/api/verify` against a real simulated host."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from pathlib import Path

import paramiko
import pytest

from gpu.executor import executor_for
from gpu.models import GPUHost
from prompts.tests.api_support import ApiClient, assert_error
from runs import services
from runs.models import Job, Run, RunStatus
from runs.selectors import run_output_dir

pytestmark = pytest.mark.django_db


def test_status_reports_hosts_gpus_and_queue(alice, local_host):
    body = ApiClient(alice).get("/status").json()
    [host] = body["hosts"]
    assert host["host"] == local_host.name and host["simulated"] is True and host["error"] == ""
    assert host["gpus"] and "cosmos-sim" in host["gpus"][0]["name"]
    assert host["operations"] == [] and host["pending_runs"] == 0


def test_status_of_an_unreachable_host_says_why_and_is_still_200(alice):
    GPUHost.objects.create(name="gone", transport="ssh", hostname="127.0.0.1", port=1, username="x",
                           key_path="/nonexistent", remote_dir="/tmp/gone")
    response = ApiClient(alice).get("/status")
    assert response.status_code == 200
    assert response.json()["hosts"][0]["error"]


def test_status_hides_other_users_runs(alice, bob, make_prompt, local_host):
    [run] = services.inference_submit(user=alice, prompt_ids=[make_prompt(alice).id]).runs
    job = Job.objects.create(name=run.id, host=local_host, kind="transfer", run_ids=[run.id])
    Run.objects.filter(pk=run.pk).update(status=RunStatus.QUEUED, host=local_host, job_id=job.name)
    [alices_view] = ApiClient(alice).get("/status").json()["hosts"][0]["operations"]
    [bobs_view] = ApiClient(bob).get("/status").json()["hosts"][0]["operations"]
    assert alices_view["run_id"] == run.id and alices_view["prompt_id"] == run.prompt_id
    assert bobs_view["run_id"] is None and bobs_view["prompt_id"] is None


def test_only_staff_may_kill_a_hosts_containers(alice, staff, local_host, scene_dir):
    shutil.copy(scene_dir / "color.mp4", Path(local_host.remote_dir) / "in.mp4")
    spec = {"prompt": "a wedged job [sim:hang]", "input_video_path": "in.mp4", "vis": {"control_weight": 0.5}}
    with executor_for(local_host) as executor:
        executor.job_prepare("stray")
        executor.inference_start("stray", spec)
        assert [c.name for c in executor.containers()] == ["cosmos-stray"]
    assert_error(ApiClient(alice).post(f"/hosts/{local_host.name}/kill"), 403)
    with executor_for(local_host) as executor:
        assert [c.name for c in executor.containers()] == ["cosmos-stray"]
    response = ApiClient(staff).post(f"/hosts/{local_host.name}/kill")
    assert response.status_code == 200, response.content
    assert response.json() == {"host": local_host.name, "killed": ["cosmos-stray"], "cancelled_runs": []}
    with executor_for(local_host) as executor:
        assert executor.containers() == []


def test_kill_on_an_unknown_host_is_404(staff):
    assert_error(ApiClient(staff).post("/hosts/nowhere/kill"), 404)


def test_only_staff_may_verify_and_fix(alice, staff, settings):
    assert_error(ApiClient(alice).post("/verify"), 403)
    assert ApiClient(staff).post("/verify").json()["ok"] is True
    orphan = settings.OUTPUTS_DIR / "run_rs_orphan"
    orphan.mkdir(parents=True)
    report = ApiClient(staff).post("/verify", params={"fix": "true"}).json()
    assert report["ok"] is False and report["fixed"] is True
    [finding] = report["findings"]
    assert finding["kind"] == "orphan_folder" and finding["fixed"]
    assert not orphan.exists()


def test_anonymous_gets_401_from_system_endpoints(local_host):
    anonymous = ApiClient()
    assert_error(anonymous.get("/status"), 401)
    assert_error(anonymous.post(f"/hosts/{local_host.name}/kill"), 401)
    assert_error(anonymous.post("/verify"), 401)


def test_a_completed_runs_missing_output_is_found(staff, alice, make_prompt):
    [run] = services.inference_submit(user=alice, prompt_ids=[make_prompt(alice).id]).runs
    Run.objects.filter(pk=run.pk).update(status=RunStatus.COMPLETED)
    assert not run_output_dir(run).exists()
    findings = ApiClient(staff).post("/verify").json()["findings"]
    assert [(f["kind"], f["subject"]) for f in findings] == [("missing_output", run.id)]


def test_status_asks_every_host_at_once(alice, tmp_path):
    """Two hosts that accept the connection but never answer: asked one after the other, the second
    would wait out the first's 10 s banner timeout. The silent server closes both connections once
    it holds both, so asked at once, the answer comes at once."""
    key = tmp_path / "id_rsa"  # a real key: without one the transport gives up before connecting
    paramiko.RSAKey.generate(2048).write_private_key_file(str(key))
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        silent.settimeout(30)
        for name in ("mute-1", "mute-2"):
            GPUHost.objects.create(name=name, transport="ssh", hostname="127.0.0.1", port=silent.getsockname()[1],
                                   username="x", key_path=str(key), remote_dir=f"/tmp/{name}")

        def hold_two_then_close():
            held = [silent.accept()[0] for _ in range(2)]
            for connection in held:
                connection.close()

        holder = threading.Thread(target=hold_two_then_close, daemon=True)
        holder.start()
        started = time.monotonic()
        response = ApiClient(alice).get("/status")
        elapsed = time.monotonic() - started
        holder.join(timeout=30)
    assert response.status_code == 200
    assert [host["host"] for host in response.json()["hosts"]] == ["mute-1", "mute-2"]
    assert all(host["error"] for host in response.json()["hosts"])
    assert elapsed < 5, f"the hosts were asked one after the other ({elapsed:.1f} s)"


def test_a_host_that_does_not_answer_holds_neither_the_api_nor_the_page(alice, mute_host, silent, client, settings):
    settings.COSMOS = {**settings.COSMOS, "HOST_STATUS_WAIT_SECONDS": 1}  # the default
    started = time.monotonic()
    [host] = ApiClient(alice).get("/status").json()["hosts"]
    assert time.monotonic() - started < 5  # not its 10 s banner timeout
    assert (host["host"], host["checking"], host["checked_at"], host["error"]) == ("mute", True, None, "")

    client.force_login(alice)
    started = time.monotonic()
    page = client.get("/hosts/live/")
    assert time.monotonic() - started < 5
    assert "Asking mute…" in page.content.decode()

    silent.hang_up()  # the host's answer comes: it cannot be asked
    deadline = time.monotonic() + 20
    while not (host := ApiClient(alice).get("/status").json()["hosts"][0])["checked_at"]:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert host["error"] and host["checking"] is False
    assert host["error"] in client.get("/hosts/live/").content.decode()
