"""Doing in a test what the queue's workers do: dispatch, then run each claimed job's pipeline
(all at once with `work_off`, or one job in a thread of its own with `in_thread`)."""

from __future__ import annotations

import threading
import time

from django.db import connection

from gpu.transports import transport_for
from runs.dispatcher import dispatch
from runs.models import UNFINISHED_JOB_STATES, Job
from runs.pipeline import job_execute


def work_off(*, rounds: int = 30) -> list[str]:
    """Dispatch and execute jobs until none is left; return how each job ended."""
    outcomes = []
    for _ in range(rounds):
        jobs = dispatch()
        if not jobs:
            if not Job.objects.filter(state__in=UNFINISHED_JOB_STATES).exists():
                return outcomes
            raise AssertionError("unfinished jobs are left that no worker holds")
        for job in jobs:
            outcomes.append(job_execute(job.pk, job.lease))
    raise AssertionError(f"work not done after {rounds} rounds")


def sim_ready(*hosts) -> None:
    """Install the simulator for local hosts before test threads open transports at once:
    gpu's installer writes its files under per-process temp names, so two threads of one
    process installing together collide (reported to the gpu layer)."""
    for host in hosts:
        transport_for(host)


def in_thread(job) -> threading.Thread:
    """Execute the job's pipeline in a thread of its own, as a worker of the task queue would."""
    sim_ready(job.host)

    def target():
        try:
            job_execute(job.pk, job.lease)
        finally:
            connection.close()

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def wait_for(predicate, *, timeout=20.0, what="the condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
