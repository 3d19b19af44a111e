"""20 users submitting 10 runs each at the same time, 4 dispatchers, 2 hosts (SSH and local):
every run is executed exactly once, in exactly one container."""

import threading
import time

import pytest
from django.db import connection

from gpu.executor import executor_for
from gpu.models import GPUHost
from runs import services
from runs.dispatcher import dispatch
from runs.models import UNFINISHED_JOB_STATES, Job, Run, RunStatus
from runs.outputs import run_log_path
from runs.pipeline import job_execute
from runs.tests.work import sim_ready

pytestmark = pytest.mark.django_db(transaction=True)

SUBMITTERS, RUNS_EACH, DISPATCHERS = 20, 10, 4
DEADLINE = 400  # seconds: a loaded 2-core machine runs 200 simulated runs well within this
QUICK = {"load_seconds": 0.05, "step_seconds": 0.0}


def closing(target):
    def run(*args):
        try:
            target(*args)
        finally:
            connection.close()

    return run


@pytest.mark.slow
def test_every_run_is_executed_exactly_once(
    django_user_model, make_prompt, make_two_gpu_ssh_host, make_local_host, settings, monkeypatch
):
    settings.COSMOS = {**settings.COSMOS, "BATCH_MAX_RUNS": 10, "PREFETCH_JOBS": 1}
    monkeypatch.setenv("COSMOS_SIM_GPUS", "2")  # two slots, each on a GPU of its own
    make_two_gpu_ssh_host(slots=2, sim_config=QUICK)
    sim_ready(make_local_host(slots=2, sim_config=QUICK))
    users = [django_user_model.objects.create_user(f"user{i}") for i in range(SUBMITTERS)]
    prompts = [make_prompt(user, f"scene of user {i}") for i, user in enumerate(users)]
    errors: list[BaseException] = []
    submitted = threading.Event()
    job_threads: list[threading.Thread] = []

    @closing
    def submitter(user, prompt):
        try:
            for _ in range(RUNS_EACH):
                services.inference_submit(user=user, prompt_ids=[prompt.id], params={"num_steps": 1})
        except BaseException as error:
            errors.append(error)

    @closing
    def execute(job):
        try:
            job_execute(job.pk, job.lease)
        except BaseException as error:
            errors.append(error)

    @closing
    def dispatcher():
        deadline = time.monotonic() + DEADLINE
        try:
            while not errors and time.monotonic() < deadline:
                for job in dispatch():  # one worker per job, as the task queue gives each its own
                    thread = threading.Thread(target=execute, args=(job,), daemon=True)
                    job_threads.append(thread)
                    thread.start()
                busy = Run.objects.exclude(status__in=[RunStatus.COMPLETED, RunStatus.FAILED]).exists()
                if submitted.is_set() and not busy:
                    return
                time.sleep(0.2)
        except BaseException as error:
            errors.append(error)

    submitters = [threading.Thread(target=submitter, args=pair) for pair in zip(users, prompts)]
    dispatchers = [threading.Thread(target=dispatcher) for _ in range(DISPATCHERS)]
    for thread in dispatchers + submitters:
        thread.start()
    for thread in submitters:
        thread.join()
    submitted.set()
    for thread in dispatchers:
        thread.join()
    for thread in list(job_threads):
        thread.join(60)
    assert not errors, errors[:3]

    runs = list(Run.objects.all())
    assert len(runs) == SUBMITTERS * RUNS_EACH
    unfinished = [(run.id, run.status, run.error) for run in runs if run.status != RunStatus.COMPLETED]
    assert not unfinished, unfinished[:5]
    jobs = list(Job.objects.all())
    assert not [job for job in jobs if job.state in UNFINISHED_JOB_STATES]
    # A job whose host failed before its container started gave its runs back (requeued).
    started = [job for job in jobs if job.started_at]
    assert all(job.outcome == "requeued" for job in jobs if not job.started_at)
    placed = [run_id for job in started for run_id in job.run_ids]
    assert sorted(placed) == sorted(run.id for run in runs)  # each run in exactly one container
    # Containers living at the same time on one host never share a GPU. Their lives come from the
    # host's own `docker events`: a job may start the moment the container ahead of it dies, before
    # that job's worker has noticed (and stamped ended_at), so the database's times would overlap.
    lives = {}
    for host in GPUHost.objects.all():
        with executor_for(host) as executor:
            lives.update(executor.container_lives(since=0, until=time.time() + 1))
    for a in started:
        for b in started:
            life_a, life_b = lives[f"cosmos-{a.name}"], lives[f"cosmos-{b.name}"]
            at_once = life_a["start"] < life_b["die"] and life_b["start"] < life_a["die"]
            overlap = a.pk < b.pk and a.host_id == b.host_id and at_once
            assert not (overlap and set(a.gpus) & set(b.gpus)), (a.name, a.gpus, b.name, b.gpus)
    assert all(len(job.gpus) == 1 for job in started)
    for job in jobs:  # a batch holds one user's runs only
        assert len({run.owner_id for run in runs if run.id in job.run_ids}) == 1
    for run in runs:
        log = run_log_path(run).read_text()
        assert log.count("[cosmos] job ") == 2, run.id  # one container: started once, ended once
        assert log.count("Saved video to") == len(Job.objects.get(name=run.job_id).run_ids)
