"""The dispatcher: priority then age, batches of compatible runs, host capacity and slots,
and exactly-once claims when many dispatchers race."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from runs.dispatcher import dispatch, slot_free
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
def test_racing_dispatchers_claim_every_run_exactly_once(django_user_model, settings):
    settings.COSMOS = {**settings.COSMOS, "BATCH_MAX_RUNS": 3, "PREFETCH_JOBS": 50}
    owner = django_user_model.objects.create_user("racer")
    host_row("gpu-a", slots=10)
    host_row("gpu-b", slots=10)
    runs = [run_row(prompt_row(owner), params={"seed": i % 4}) for i in range(60)]
    errors = []

    def worker():
        try:
            for _ in range(10):
                dispatch()
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
