"""The dispatcher: which pending runs go to which host, grouped into which job.

`dispatch()` may run in any number of processes at once. Per host it takes the host row's
lock (`SELECT ... FOR UPDATE` on PostgreSQL; SQLite's IMMEDIATE transactions serialise every
writer anyway), counts the host's unfinished jobs, and claims work for the free capacity:
`slots` jobs that run now plus `PREFETCH_JOBS` whose inputs upload while the GPU works (a job whose container has ended and
whose outputs are coming home holds no slot). Runs
are taken highest priority first, then oldest; the head run's compatible companions (same
owner, same global parameters, same priority: `Run.batch_key`) ride in the same container up
to `BATCH_MAX_RUNS`, because one model load per batch is the big saving. Candidate rows are
read with `FOR UPDATE SKIP LOCKED` (PostgreSQL) so two dispatchers pick different runs, and
the claim itself is the conditional UPDATE pending -> queued: a run is claimed exactly once
whatever the race. It only claims; `runs.tasks` starts a pipeline task per new job.

`dispatch_soon()` asks the task queue for a dispatch once the current transaction commits:
called by every event that may open work (a submit, a container ending, a cancel).
"""

from __future__ import annotations

import math
import re
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django_q.tasks import async_task

from gpu.models import GPUHost
from runs.models import GPU_JOB_STATES, Job, Run, RunStatus
from runs.transitions import run_transition

# Safety valve against a claim loop that keeps losing races.
MAX_CLAIM_TRIES = 50


def dispatch() -> list[Job]:
    """Claim pending runs for free capacity on every usable host; return the new jobs."""
    if not Run.objects.filter(status=RunStatus.PENDING).exists():
        return []
    jobs: list[Job] = []
    hosts = hosts_usable()
    # Idle GPUs first, everywhere; only then work to prefetch behind the busy ones.
    for prefetch in (0, settings.COSMOS["PREFETCH_JOBS"]):
        for host in hosts:
            # A host seen full without the lock is full: taking the write lock only to find
            # that out would make idle dispatchers queue behind the ones doing work.
            if host.open_jobs + len([job for job in jobs if job.host_id == host.pk]) < host.slots + prefetch:
                jobs.extend(_fill_host(host.pk, prefetch=prefetch))
    return jobs


def hosts_usable() -> list[GPUHost]:
    """Enabled hosts not in their back-off after being unreachable, least loaded first."""
    now = timezone.now()
    recently_down = Job.objects.filter(
        outcome="requeued",
        finished_at__gte=now - timedelta(seconds=settings.COSMOS["HOST_RETRY_SECONDS"]),
    ).values("host_id")
    return list(
        GPUHost.objects.filter(enabled=True)
        .exclude(id__in=recently_down)
        .annotate(open_jobs=Count("cosmos_jobs", filter=Q(cosmos_jobs__state__in=GPU_JOB_STATES)))
        .order_by("open_jobs", "name")
    )


def _fill_host(host_pk: int, *, prefetch: int) -> list[Job]:
    created: list[Job] = []
    with transaction.atomic():
        host = GPUHost.objects.select_for_update().filter(pk=host_pk, enabled=True).first()
        if host is None:
            return created
        open_jobs = Job.objects.filter(host=host, state__in=GPU_JOB_STATES).count()
        capacity = host.slots + prefetch - open_jobs
        for _ in range(MAX_CLAIM_TRIES):
            if capacity <= 0:
                break
            head = _pending().first()
            if head is None:
                break
            job = _claim(host, head)
            if job is not None:
                created.append(job)
                capacity -= 1
    return created


def _pending():
    # SKIP LOCKED: a concurrent dispatcher's candidates are not ours to look at (PostgreSQL;
    # a no-op on SQLite, where the transaction already holds the only write lock).
    return (
        Run.objects.select_for_update(skip_locked=True)
        .filter(status=RunStatus.PENDING)
        .order_by("-priority", "created_at", "id")
    )


def _claim(host: GPUHost, head: Run) -> Job | None:
    ids = [head.id]
    if head.batch_key:
        size = _batch_size(head)
        ids = list(
            _pending().filter(batch_key=head.batch_key, priority=head.priority).values_list("id", flat=True)[:size]
        )
        if head.id not in ids:  # claimed meanwhile by someone else; try the next head
            return None
    name = _job_name(head, len(ids))
    claimed = run_transition(ids, from_=[RunStatus.PENDING], to=RunStatus.QUEUED, host=host, job_id=name)
    if not claimed:
        return None
    runs = list(Run.objects.filter(job_id=name).order_by("-priority", "created_at", "id"))
    return Job.objects.create(
        name=name,
        host=host,
        kind=head.model_type,
        run_ids=[run.id for run in runs],
        folder=batch_folder_name(runs) if len(runs) > 1 else "",
        lease=new_lease(),
        heartbeat_at=timezone.now(),
    )


def _batch_size(head: Run) -> int:
    """Split compatible work evenly over the idle GPU slots instead of filling the first host."""
    waiting = Run.objects.filter(status=RunStatus.PENDING, batch_key=head.batch_key, priority=head.priority).count()
    hosts = GPUHost.objects.filter(enabled=True).annotate(
        busy=Count("cosmos_jobs", filter=Q(cosmos_jobs__state__in=GPU_JOB_STATES))
    )
    idle_slots = sum(max(0, host.slots - host.busy) for host in hosts)
    share_over = idle_slots or sum(host.slots for host in hosts) or 1
    return max(1, min(settings.COSMOS["BATCH_MAX_RUNS"], math.ceil(waiting / share_over)))


def _job_name(head: Run, count: int) -> str:
    if count > 1:
        return f"batch_{uuid.uuid4().hex[:16]}"
    # A run's job is named after it (container cosmos-<run id>); a run sent back to pending
    # because its host was down gets a fresh suffix, never a name a container may still hold.
    earlier = Job.objects.filter(name__startswith=head.id).count()
    return head.id if not earlier else f"{head.id}.{earlier + 1}"


def batch_folder_name(runs: list[Run]) -> str:
    names = {run.batch_name for run in runs}
    label = names.pop() if len(names) == 1 and runs[0].batch_name else "batch"
    label = re.sub(r"[^A-Za-z0-9_-]+", "_", label).strip("_")[:60] or "batch"
    folder = f"batch_{label}_{timezone.now():%Y%m%d_%H%M%S}"
    if Job.objects.filter(folder=folder).exists():  # same name within the same second
        folder = f"{folder}_{uuid.uuid4().hex[:6]}"
    return folder


def new_lease() -> str:
    return uuid.uuid4().hex


def slot_free(job: Job) -> bool:
    """May this job start its container now? True while it is among the first `slots`
    jobs of its host in claim order that have not yet seen their container end. Jobs ahead only ever finish, so the answer
    never flips back, and two jobs can never both take the last slot."""
    host = job.host
    if host is None:
        return False
    ahead = Job.objects.filter(host=host, state__in=GPU_JOB_STATES, id__lt=job.id).count()
    return ahead < host.slots


def dispatch_soon() -> None:
    """Ask for a dispatch once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: async_task("runs.tasks.dispatch_task", task_name="cosmos-dispatch", group="cosmos"))


def job_enqueue(job: Job) -> None:
    """Hand a job to the task queue; its lease says which worker may take it."""
    async_task("runs.tasks.job_task", job.pk, job.lease, task_name=f"cosmos-job-{job.name}", group="cosmos-jobs")
