"""Doing in a test what the queue's workers do: dispatch, then run each claimed job's pipeline."""

from __future__ import annotations

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
