"""One GPU per slot: each job's container gets devices of its own, recorded on the job, shown in
the host status, and free again once the job's container has ended. Against the simulator with
two GPUs, over the real sshd and the local transport; containers are looked at with the
simulator's `docker inspect`, as they would be on a real host."""

import json
import threading
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.urls import reverse

from gpu import services as host_services
from gpu.executor import executor_for
from runs import services
from runs.devices import gpus_take
from runs.dispatcher import dispatch
from runs.models import Job, JobState, RunStatus
from runs.outputs import run_log_path
from runs.tests.work import in_thread, sim_ready, wait_for, work_off

pytestmark = pytest.mark.django_db(transaction=True)

# Slow enough that a container is still loading its model while the test looks at it.
SLOW = {"load_seconds": 60, "step_seconds": 0.01}


@pytest.fixture(params=["ssh", "local"])
def make_two_gpu_host(request, staff, monkeypatch):
    """Make a simulated host on a machine with two GPUs (checked, so the GPUs it has are known)."""
    if request.param == "ssh":
        factory = request.getfixturevalue("make_two_gpu_ssh_host")
    else:
        monkeypatch.setenv("COSMOS_SIM_GPUS", "2")  # the local transport passes our environment on
        factory = request.getfixturevalue("make_local_host")

    def make(**fields):
        host = factory(**fields)
        sim_ready(host)
        report = host_services.host_check(user=staff, name=host.name)
        assert len(report.gpus) == 2, report.summary
        host.refresh_from_db()
        return host

    return make


def running(host, *jobs) -> bool:
    """Each job is running and its container has started."""
    names = [job.name for job in jobs]
    if Job.objects.filter(name__in=names, state=JobState.RUNNING).count() != len(names):
        return False
    with executor_for(host) as executor:
        return all(executor.job_state(name).running for name in names)


def container(host, job) -> dict:
    """What `docker inspect` says of the job's container: its GPU request and its environment."""
    with executor_for(host) as executor:
        result = executor.transport.run(executor.docker.inspect(executor.container_name(job.name), format="{{json .}}"))
    view = json.loads(result.check("docker inspect").stdout)
    env = dict(item.split("=", 1) for item in view["Config"]["Env"])
    [request] = view["HostConfig"]["DeviceRequests"]
    return {"gpus": request["Options"], "CUDA_VISIBLE_DEVICES": env["CUDA_VISIBLE_DEVICES"], "NUM_GPU": env["NUM_GPU"],
            "shm": view["HostConfig"]["ShmSize"]}


def submit(user, prompt):
    [run] = services.inference_submit(user=user, prompt_ids=[prompt.id], params={"num_steps": 1}).runs
    return run


def test_two_slots_run_two_jobs_at_once_each_on_its_own_gpu_and_a_freed_gpu_is_used_again(
    alice, client, make_prompt, make_two_gpu_host, settings
):
    settings.COSMOS = {**settings.COSMOS, "BATCH_MAX_RUNS": 1, "PREFETCH_JOBS": 1}
    host = make_two_gpu_host(slots=2, sim_config=SLOW, shm_size="2g")
    runs = [submit(alice, make_prompt(alice, f"street number {i}")) for i in range(3)]
    jobs = dispatch()
    assert len(jobs) == 3  # two for the GPUs, one waiting behind them with its inputs uploaded
    workers = [in_thread(job) for job in jobs]
    first_two = sorted(jobs[:2], key=lambda job: job.pk)
    wait_for(lambda: running(host, *first_two), what="two containers at once", timeout=60)
    for job in first_two:
        job.refresh_from_db()
    assert sorted(job.gpus for job in first_two) == [[0], [1]]
    for job in first_two:
        assert container(host, job) == {"gpus": f'"device={job.gpus[0]}"', "CUDA_VISIBLE_DEVICES": "0",
                                        "NUM_GPU": "1", "shm": "2g"}
    waiting = jobs[2]
    waiting.refresh_from_db()
    assert waiting.state == JobState.READY and waiting.gpus == []

    # The status names each running job's GPU.
    [status] = [s for s in services.hosts_status(user=alice) if s["host"] == host.name]
    held = {op["job"]: op["gpus"] for op in status["operations"] if op["status"] == RunStatus.RUNNING}
    assert held == {job.name: job.gpus for job in first_two}
    out = StringIO()
    call_command("cosmos", "status", "--user", "alice", stdout=out)
    rows = [line.split() for line in out.getvalue().splitlines() if line.strip().startswith("rs_")]
    for job in first_two:  # columns Run (shortened), Type, Prompt, Status, GPU
        [row] = [row for row in rows if job.run_ids[0].startswith(row[0].rstrip("…"))]
        assert row[3:5] == ["running", str(job.gpus[0])]
    client.force_login(alice)
    page = client.get(reverse("runs:hosts-live")).content.decode()
    assert "on GPU 0" in page and "on GPU 1" in page

    # The job on GPU 0 ends: the waiting job starts there, beside the one still on GPU 1.
    [on_zero] = [job for job in first_two if job.gpus == [0]]
    services.run_cancel(user=alice, run_id=on_zero.run_ids[0])
    wait_for(lambda: running(host, waiting), what="the waiting job to start", timeout=60)
    waiting.refresh_from_db()
    assert waiting.gpus == [0]
    assert container(host, waiting)["gpus"] == '"device=0"'
    for run in runs:
        run.refresh_from_db()
        if run.status == RunStatus.RUNNING:
            services.run_cancel(user=alice, run_id=run.id)
    for worker in workers:
        worker.join(60)
    assert not Job.objects.exclude(state=JobState.DONE).exists()


def test_a_job_given_both_gpus_runs_torchrun_on_two(alice, make_prompt, make_two_gpu_host):
    host = make_two_gpu_host(slots=1, gpus_per_job=2, sim_config=SLOW)
    run = submit(alice, make_prompt(alice))
    [job] = dispatch()
    worker = in_thread(job)
    wait_for(lambda: running(host, job), what="the container", timeout=60)
    job.refresh_from_db()
    assert job.gpus == [0, 1]
    assert container(host, job) == {"gpus": '"device=0,1"', "CUDA_VISIBLE_DEVICES": "0,1", "NUM_GPU": "2", "shm": "8g"}
    services.run_cancel(user=alice, run_id=run.id)
    worker.join(60)


def test_gpus_are_recorded_and_released_when_jobs_end(alice, make_prompt, make_local_host, monkeypatch):
    monkeypatch.setenv("COSMOS_SIM_GPUS", "2")
    host = make_local_host(slots=2)
    sim_ready(host)
    first = submit(alice, make_prompt(alice, "first street"))
    assert work_off() == ["completed"]
    second = submit(alice, make_prompt(alice, "second street"))
    assert work_off() == ["completed"]
    jobs = {job.name: job for job in Job.objects.all()}
    first.refresh_from_db()
    second.refresh_from_db()
    # Nothing held GPU 0 when the second job started: it got the same device.
    assert jobs[first.job_id].gpus == jobs[second.job_id].gpus == [0]
    assert f"Starting container cosmos-{second.job_id} (inference) on GPU 0." in run_log_path(second).read_text()


def test_two_starts_on_one_host_at_once_take_different_gpus(make_local_host, alice, make_prompt, settings):
    """The take itself, raced: many jobs marked running at once on one host never share a GPU."""
    host = make_local_host(slots=4, gpus_per_job=1)
    settings.COSMOS = {**settings.COSMOS, "BATCH_MAX_RUNS": 1, "PREFETCH_JOBS": 0}
    for i in range(4):
        submit(alice, make_prompt(alice, f"street {i}"))
    jobs = dispatch()
    assert len(jobs) == 4
    barrier = threading.Barrier(len(jobs))
    errors = []

    def take(job):
        try:
            barrier.wait()
            with transaction.atomic():
                gpus = gpus_take(job)
                Job.objects.filter(pk=job.pk).update(state=JobState.RUNNING, gpus=gpus)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=take, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert sorted(gpu for job in Job.objects.all() for gpu in job.gpus) == [0, 1, 2, 3]
    late = Job.objects.create(name="late", host=host, kind="transfer", state=JobState.READY)
    with transaction.atomic():
        assert gpus_take(late) is None  # all four are held


def test_a_host_with_fewer_gpus_than_a_job_needs_fails_the_run_with_the_reason(alice, make_prompt, make_local_host):
    host = make_local_host(slots=1, gpus_per_job=2, last_check={"ok": True, "gpus": [{"index": 0}]})
    sim_ready(host)
    run = submit(alice, make_prompt(alice))
    assert work_off() == ["failed"]
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert "gives each job 2 GPUs but has 1" in run.error and "--gpus-per-job" in run.error
