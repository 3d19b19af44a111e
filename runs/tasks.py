"""django-q2 tasks of the runs app, and their schedules.

 - `dispatch_task`: claim pending runs for free host capacity, start a pipeline task per job.
   Asked for on every event that may open work (a submit commits, a container ends, a run is
   cancelled) and, as a safety net, by a schedule every minute (q2's scheduler ticks every
   30 s and counts in minutes, so events, not the schedule, keep the GPUs busy).
 - `job_task`: one job's pipeline, for as long as its container runs.
 - `reconcile_task`: every minute, look after jobs whose worker went quiet.
 - `integrity_task`: an integrity check asked for on the hosts page (its report is the result).
The schedules are created by runs/schedules.py after every migrate.

A task never relies on staying alive: the job it runs is held by a lease and a heartbeat, and
reconcile hands it to another worker if this one dies.
"""

from __future__ import annotations

from runs import dispatcher, integrity, pipeline, reconcile


def dispatch_task() -> list[str]:
    jobs = dispatcher.dispatch()
    for job in jobs:
        dispatcher.job_enqueue(job)
    return [job.name for job in jobs]


def job_task(job_pk: int, lease: str) -> str:
    return pipeline.job_execute(job_pk, lease)


def reconcile_task() -> list[dict]:
    return [action.to_dict() for action in reconcile.reconcile()]


def integrity_task(fix: bool) -> dict:
    return integrity.verify(fix=fix).to_dict()
