"""Crash recovery: a worker SIGKILLed mid-run loses no GPU work and starts no second container;
reconcile re-attaches to a running container, restarts a job nobody began, waits for an
unreachable host and fails the runs once it is lost for good."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from gpu.executor import executor_for
from runs import services
from runs.dispatcher import dispatch
from runs.models import Job, JobState, Run, RunStatus
from runs.outputs import run_log_path
from runs.tests.work import work_off

pytestmark = pytest.mark.django_db(transaction=True)

STEPS = 30


def database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def start_qcluster() -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "cosmosproject.settings",
        "COSMOS_DATA_DIR": str(settings.DATA_DIR),
        "DATABASE_URL": database_url(),
        "COSMOS_Q_WORKERS": "2",
        "COSMOS_HEARTBEAT_SECONDS": "0.5",
        "COSMOS_STALE_SECONDS": "2",
        "COSMOS_SMART_NAMES": "0",
    }
    env.pop("PYTEST_VERSION", None)
    manage = settings.BASE_DIR / "manage.py"
    # Its own session: the SIGKILL reaches the cluster and all its workers, as when a machine dies.
    return subprocess.Popen(
        [sys.executable, str(manage), "qcluster"],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop(process: subprocess.Popen, sig=signal.SIGTERM) -> None:
    if process.poll() is None:
        os.killpg(process.pid, sig)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)


def wait_for(predicate, *, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def steps_logged(run) -> list[int]:
    path = run_log_path(run)
    text = path.read_text() if path.exists() else ""
    return [int(n) for n in re.findall(rf"Generating samples: .*\| (\d+)/{STEPS} \[", text)]


@pytest.mark.slow
def test_a_sigkilled_worker_loses_no_gpu_work(admin_user, make_prompt, local_host, settings):
    settings.COSMOS = {**settings.COSMOS, "STALE_SECONDS": 2}
    local_host.sim_config = {"load_seconds": 0.5, "step_seconds": 0.15}
    local_host.save()
    prompt = make_prompt(admin_user)
    first = start_qcluster()
    try:
        [run] = services.inference_submit(user=admin_user, prompt_ids=[prompt.id], params={"num_steps": STEPS}).runs
        wait_for(lambda: len(steps_logged(run)) >= 5, timeout=90, what="the first worker to follow some steps")
    finally:
        stop(first, signal.SIGKILL)
    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING
    with executor_for(local_host) as executor:
        assert executor.job_state(run.job_id).running  # the GPU goes on working without a worker

    second = start_qcluster()
    try:
        time.sleep(2.5)  # the dead worker's heartbeat goes stale
        actions = services.runs_reconcile(user=admin_user)
        assert [(a.job, a.action) for a in actions] == [(run.job_id, "re-attached")]
        wait_for(
            lambda: Run.objects.get(pk=run.pk).status in (RunStatus.COMPLETED, RunStatus.FAILED),
            timeout=90,
            what="the second worker to finish the run",
        )
    finally:
        stop(second)
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED, run.error
    log = run_log_path(run).read_text()
    assert steps_logged(run) == list(range(1, STEPS + 1))  # every step once: none lost, none twice
    assert log.count(f"[cosmos] job {run.job_id} started") == 1  # one container, ever
    assert log.count("Saved video to") == 1
    assert "Re-attached to container" in log
    assert Job.objects.get(name=run.job_id).attempts == 2


def test_reconcile_restarts_a_job_no_worker_began(alice, staff, make_prompt, local_host, settings, monkeypatch):
    settings.COSMOS = {**settings.COSMOS, "STALE_SECONDS": 1}
    [run] = services.inference_submit(user=alice, prompt_ids=[make_prompt(alice).id]).runs
    [job] = dispatch()  # claimed, but its task never ran (the worker died before it began)
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=5))
    monkeypatch.setattr("django_q.conf.Conf.SYNC", True)  # the handed-over task runs right here
    [action] = services.runs_reconcile(user=staff)
    assert action.action == "restarted"
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED, run.error


def test_reconcile_leaves_jobs_with_a_live_heartbeat_alone(alice, make_prompt, local_host, staff):
    services.inference_submit(user=alice, prompt_ids=[make_prompt(alice).id])
    dispatch()
    assert services.runs_reconcile(user=staff) == []


def test_an_unreachable_hosts_job_waits_then_fails_as_lost(alice, staff, make_prompt, make_ssh_host, settings):
    settings.COSMOS = {**settings.COSMOS, "STALE_SECONDS": 1, "LOST_AFTER_SECONDS": 60}
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    host = make_ssh_host(port=port)
    [run] = services.inference_submit(user=alice, prompt_ids=[make_prompt(alice).id]).runs
    [job] = dispatch()
    Run.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING)  # it was running when the host vanished
    Job.objects.filter(pk=job.pk).update(state=JobState.RUNNING, heartbeat_at=timezone.now() - timedelta(seconds=5))
    [action] = services.runs_reconcile(user=staff)
    assert action.action == "waiting" and Run.objects.get(pk=run.pk).status == RunStatus.RUNNING
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=120))
    [action] = services.runs_reconcile(user=staff)
    assert action.action == "failed"
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and run.failure_reason == "lost_connection"
    assert host.name in action.host


def test_a_job_that_keeps_killing_its_workers_is_given_up(alice, make_prompt, local_host):
    from runs.pipeline import MAX_JOB_ATTEMPTS, job_execute

    [run] = services.inference_submit(user=alice, prompt_ids=[make_prompt(alice).id]).runs
    [job] = dispatch()
    Job.objects.filter(pk=job.pk).update(attempts=MAX_JOB_ATTEMPTS, error="RuntimeError: boom")
    assert job_execute(job.pk, job.lease) == "failed"
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and run.failure_reason == "worker_failed"
    assert "RuntimeError: boom" in run.error
    assert work_off() == []

