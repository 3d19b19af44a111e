"""The dispatcher: priority then age, batches of compatible runs, host capacity and slots,
and exactly-once claims when many dispatchers race."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from django_q.models import OrmQ

from runs.dispatcher import batch_grow, dispatch, dispatch_soon, slot_free
from runs.models import Job, JobState, Run, RunStatus
from runs.tests.factories import host_row, prompt_row, run_row


@pytest.fixture
def one_host(db):
    return host_row("gpu-a")


def test_highest_priority_then_oldest_is_claimed_first(alice, one_host, settings):
    settings.COSMOS = {**settings.COSMOS, "PREFETCH_JOBS": 0}
    old = run_row(prompt_row(alice), params={"seed": 1})
    urgent = run_row(prompt_row(alice), params={"seed": 2}, priority=5)
    run_row(prompt_row(alice), params={"seed": 3})
    [job] = dispatch()
    assert job.run_ids == [urgent.id]
    Job.objects.filter(pk=job.pk).update(state=JobState.DONE)
    [job] = dispatch()
    assert job.run_ids == [old.id]


def test_claimed_runs_are_queued_on_the_host_with_a_timestamp(alice, one_host):
    run = run_row(prompt_row(alice))
    [job] = dispatch()
    run.refresh_from_db()
    assert run.status == RunStatus.QUEUED
    assert run.host == one_host
    assert run.job_id == job.name == run.id  # a lone run's container is named after it
    assert run.queued_at is not None
    assert job.lease and job.heartbeat_at


def test_compatible_runs_of_one_owner_share_a_batch_job(alice, bob, one_host):
    mine = [run_row(prompt_row(alice), params={"weights": [i / 10, 0.5, 0, 0]}) for i in range(1, 4)]
    other_steps = run_row(prompt_row(alice), params={"num_steps": 10})
    bobs = run_row(prompt_row(bob))
    jobs = dispatch()
    batch = jobs[0]
    assert batch.run_ids == [run.id for run in mine]  # per-run weights differ: still one batch
    assert batch.folder.startswith("batch_batch_")
    assert other_steps.id not in batch.run_ids and bobs.id not in batch.run_ids


def test_batch_size_is_capped(alice, one_host, settings):
    settings.COSMOS = {**settings.COSMOS, "BATCH_MAX_RUNS": 3, "PREFETCH_JOBS": 0}
    for _ in range(5):
        run_row(prompt_row(alice))
    [job] = dispatch()
    assert len(job.run_ids) == 3


def test_work_is_split_evenly_over_idle_hosts(alice, db, settings):
    settings.COSMOS = {**settings.COSMOS, "BATCH_MAX_RUNS": 8, "PREFETCH_JOBS": 1}
    host_row("gpu-a")
    host_row("gpu-b")
    for _ in range(12):
        run_row(prompt_row(alice))
    jobs = dispatch()
    assert sorted(len(job.run_ids) for job in jobs) == [6, 6]
    assert {job.host.name for job in jobs} == {"gpu-a", "gpu-b"}


def test_a_host_takes_its_slots_plus_prefetch_and_no_more(alice, one_host, settings):
    settings.COSMOS = {**settings.COSMOS, "PREFETCH_JOBS": 1}
    for seed in range(4):
        run_row(prompt_row(alice), params={"seed": seed})
    assert len(dispatch()) == 2
    assert dispatch() == []
    first = Job.objects.order_by("id").first()
    Job.objects.filter(pk=first.pk).update(state=JobState.COLLECTING)  # container ended: slot free
    assert len(dispatch()) == 1


def test_only_the_first_slots_jobs_may_start(alice, one_host):
    for seed in range(2):
        run_row(prompt_row(alice), params={"seed": seed})
    first, second = dispatch()
    assert slot_free(first) and not slot_free(second)
    Job.objects.filter(pk=first.pk).update(state=JobState.COLLECTING)
    assert slot_free(second)


def waiting_behind_a_running_job(alice, host, *, runs: int, seed: int = 1) -> Job:
    """A job of `runs` compatible runs, uploaded and waiting while the host's GPU runs another."""
    run_row(prompt_row(alice), params={"seed": 999})
    for _ in range(runs):
        run_row(prompt_row(alice), params={"seed": seed})
    running, waiting = (job for job in dispatch() if job.host_id == host.pk)
    Job.objects.filter(pk=running.pk).update(state=JobState.RUNNING)
    Job.objects.filter(pk=waiting.pk).update(state=JobState.READY)
    Run.objects.filter(job_id=waiting.name).update(status=RunStatus.UPLOADING)
    waiting.refresh_from_db()
    return waiting


def test_a_waiting_batch_takes_in_compatible_runs_that_arrive_later(alice, bob, one_host, settings):
    settings.COSMOS = {**settings.COSMOS, "BATCH_MAX_RUNS": 4, "PREFETCH_JOBS": 1}
    waiting = waiting_behind_a_running_job(alice, one_host, runs=1)
    late = [run_row(prompt_row(alice), params={"seed": 1}) for _ in range(4)]
    other_seed = run_row(prompt_row(alice), params={"seed": 2})
    bobs = run_row(prompt_row(bob), params={"seed": 1})
    assert batch_grow(waiting, "not its lease") == []  # only the worker holding the job may grow it
    taken = batch_grow(waiting, waiting.lease)
    assert [run.id for run in taken] == [run.id for run in late[:3]]  # up to BATCH_MAX_RUNS in all
    waiting.refresh_from_db()
    assert waiting.run_ids[1:] == [run.id for run in late[:3]] and waiting.folder.startswith("batch_")
    assert {run.status for run in Run.objects.filter(id__in=waiting.run_ids[1:])} == {RunStatus.QUEUED}
    assert Run.objects.get(pk=late[3].pk).status == RunStatus.PENDING
    assert Run.objects.get(pk=other_seed.pk).status == Run.objects.get(pk=bobs.pk).status == RunStatus.PENDING


def test_waiting_batches_on_two_hosts_take_even_shares(alice, db, settings):
    settings.COSMOS = {**settings.COSMOS, "BATCH_MAX_RUNS": 8, "PREFETCH_JOBS": 1}
    first = waiting_behind_a_running_job(alice, host_row("gpu-a"), runs=3)
    second = waiting_behind_a_running_job(alice, host_row("gpu-b"), runs=1)
    for _ in range(3):
        run_row(prompt_row(alice), params={"seed": 1})
    assert len(batch_grow(first, first.lease)) == 1  # 3 + 1 + 3 pending = 7 over two jobs: 4 at most
    assert len(batch_grow(second, second.lease)) == 2
    assert batch_grow(first, first.lease) == batch_grow(second, second.lease) == []  # nothing is left


def test_compatible_runs_are_left_to_a_job_that_has_not_started_instead_of_prefetched(alice, one_host, settings):
    settings.COSMOS = {**settings.COSMOS, "PREFETCH_JOBS": 1}
    run_row(prompt_row(alice), params={"seed": 1})
    [starting] = dispatch()  # claimed for the idle GPU; its upload has not finished
    late = run_row(prompt_row(alice), params={"seed": 1})
    other = run_row(prompt_row(alice), params={"seed": 2})
    [prefetched] = dispatch()
    assert prefetched.run_ids == [other.id]  # `late` waits for `starting` to take it in
    assert Run.objects.get(pk=late.pk).status == RunStatus.PENDING
    Job.objects.filter(pk=prefetched.pk).update(state=JobState.DONE)
    Job.objects.filter(pk=starting.pk).update(state=JobState.RUNNING)
    Run.objects.filter(job_id=starting.name).update(status=RunStatus.RUNNING)
    [next_job] = dispatch()  # started without it: now it is prefetched like any run
    assert next_job.run_ids == [late.id]


def test_another_host_prefetches_compatible_runs_only_when_no_job_is_about_to_start_with_them(alice, db, settings):
    settings.COSMOS = {**settings.COSMOS, "PREFETCH_JOBS": 1}
    busy = host_row("gpu-b")
    waiting = waiting_behind_a_running_job(alice, busy, runs=1, seed=7)  # gpu-b: running + prefetched
    Job.objects.filter(pk=waiting.pk).update(state=JobState.DONE)  # gpu-b: running, room to prefetch
    run_row(prompt_row(alice), params={"seed": 1})
    host_row("gpu-a")
    [starting] = dispatch()  # claimed for gpu-a's idle GPU, still uploading
    late = run_row(prompt_row(alice), params={"seed": 1})
    assert dispatch() == [] and Run.objects.get(pk=late.pk).status == RunStatus.PENDING  # left to `starting`
    Job.objects.filter(pk=starting.pk).update(state=JobState.RUNNING)  # it started without `late`
    Run.objects.filter(job_id=starting.name).update(status=RunStatus.RUNNING)
    [prefetched] = dispatch()
    assert prefetched.run_ids == [late.id]


def test_a_waiting_batch_takes_nothing_while_more_urgent_work_waits(alice, one_host, settings):
    settings.COSMOS = {**settings.COSMOS, "PREFETCH_JOBS": 1}
    waiting = waiting_behind_a_running_job(alice, one_host, runs=1)
    run_row(prompt_row(alice), params={"seed": 1})
    run_row(prompt_row(alice), params={"seed": 5}, priority=3)
    assert batch_grow(waiting, waiting.lease) == []


def test_a_burst_of_dispatch_requests_queues_one_dispatch_until_a_worker_takes_it(db, django_capture_on_commit_callbacks):
    def dispatches():
        return [task for task in OrmQ.objects.all() if task.func() == "runs.tasks.dispatch_task"]

    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(5):
            dispatch_soon()
    [queued] = dispatches()
    OrmQ.objects.filter(pk=queued.pk).update(lock=timezone.now() + timedelta(hours=1))  # a worker took it
    with django_capture_on_commit_callbacks(execute=True):  # it may have read the runs already: ask again
        dispatch_soon()
        dispatch_soon()
    assert len(dispatches()) == 2


def test_disabled_and_recently_unreachable_hosts_get_no_work(alice, db):
    host_row("off", enabled=False)
    down = host_row("down")
    Job.objects.create(name="old", host=down, kind="transfer", state=JobState.DONE, outcome="requeued", finished_at=timezone.now())
    run_row(prompt_row(alice))
    assert dispatch() == []
    Job.objects.filter(name="old").update(finished_at=timezone.now() - timedelta(hours=1))
    assert [job.host.name for job in dispatch()] == ["down"]


def test_upscale_runs_are_never_merged(alice, one_host):
    prompt = prompt_row(alice)
    for _ in range(2):
        run_row(prompt, model_type="upscale")
    jobs = dispatch()
    assert [len(job.run_ids) for job in jobs] == [1, 1]


@pytest.mark.django_db(transaction=True)
def test_racing_dispatchers_and_growing_jobs_claim_every_run_exactly_once(django_user_model, settings):
    settings.COSMOS = {**settings.COSMOS, "BATCH_MAX_RUNS": 3, "PREFETCH_JOBS": 50}
    owner = django_user_model.objects.create_user("racer")
    host_row("gpu-a", slots=10)
    host_row("gpu-b", slots=10)
    runs = [run_row(prompt_row(owner), params={"seed": i % 4}) for i in range(60)]
    errors = []

    def worker():
        mine = []
        try:
            for _ in range(10):
                mine += dispatch()
                # Each job's upload is done at once here: they take in companions, racing the dispatchers.
                Job.objects.filter(pk__in=[job.pk for job in mine]).update(state=JobState.READY)
                for job in mine:
                    batch_grow(job, job.lease)
        except Exception as error:  # surfaced below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    claimed = [rid for job in Job.objects.all() for rid in job.run_ids]
    assert sorted(claimed) == sorted(run.id for run in runs)  # every run in exactly one job
    assert not Run.objects.exclude(status=RunStatus.QUEUED).exists()
    assert all(Run.objects.filter(job_id=job.name).count() == len(job.run_ids) <= 3 for job in Job.objects.all())
