"""django-q2 tasks of the runs app, and their schedules.

 - `dispatch_task`: claim pending runs for free host capacity, start a pipeline task per job.
   Asked for on every event that may open work (a submit commits, a container ends, a run is
   cancelled) and, as a safety net, by a schedule every minute (q2's scheduler ticks every
   30 s and counts in minutes, so events, not the schedule, keep the GPUs busy).
 - `job_task`: one job's pipeline, for as long as its container runs.
 - `reconcile_task`: every minute, look after jobs whose worker went quiet.
 - `integrity_task`: an integrity check asked for on the hosts page (its report is the result).
The schedules are created by runs/schedules.py after every migrate.

`worker_heap_freeze` runs in each q2 worker right after it is forked (runs/apps.py connects it).

A task never relies on staying alive: the job it runs is held by a lease and a heartbeat, and
reconcile hands it to another worker if this one dies.
"""

from __future__ import annotations

import gc

from runs import dispatcher, integrity, pipeline, reconcile


def worker_heap_freeze(**_signal) -> None:
    """Keep the garbage collector off the heap a worker inherits from the cluster.

    A forked worker shares its parent's memory pages until it writes to them, and a full
    collection writes to every object it scans. The first one in a fresh worker copied ~13,000
    pages and stalled that worker's first task for 1.3-1.6 s on a loaded machine: a dispatch,
    or a job about to start its container, while the GPU waited. Frozen objects are never
    scanned (they are the modules and settings, alive for the whole process anyway), and
    freezing is a constant-time list splice.
    """
    gc.freeze()


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
