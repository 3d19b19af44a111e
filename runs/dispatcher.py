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

Runs keep arriving after a claim. A job takes in compatible pending runs until its container
starts (`batch_grow`, called by the pipeline while the job waits for its slot and just before
it starts; never holding a free GPU to wait for more), so what arrives during its upload or
its wait shares its model load; meanwhile the dispatcher leaves such runs to it instead of
making them a prefetch job of their own. A job waiting behind a running one starts the moment
that container dies (`slot_blocker`).

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
from django_q.models import OrmQ
from django_q.tasks import async_task

from gpu.models import GPUHost
from runs.models import GPU_JOB_STATES, UNSTARTED_JOB_STATES, Job, JobState, Run, RunStatus
from runs.transitions import run_transition

# Safety valve against a claim loop that keeps losing races.
MAX_CLAIM_TRIES = 50
DISPATCH_TASK = "runs.tasks.dispatch_task"
# How far down the task queue dispatch_soon looks for a dispatch already waiting there.
DISPATCH_LOOKAHEAD = 50
# Runs claimed into a job whose container has not started yet.
NOT_STARTED = (RunStatus.QUEUED, RunStatus.UPLOADING)


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
        # Work to prefetch that a job not started yet will take in itself.
        growing = _growing_keys(host) if prefetch else set()
        for _ in range(MAX_CLAIM_TRIES):
            if capacity <= 0:
                break
            head = _pending().exclude(batch_key__in=growing).first()
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


def batch_grow(job: Job, lease: str) -> list[Run]:
    """Let compatible runs that arrived after this job was claimed ride in it, up to the moment
    its container starts: pending runs of its batch key and priority, up to an even share of
    that work over the jobs of the key not started yet, and BATCH_MAX_RUNS. One model load then
    serves them, instead of one more job each host would run later. Claimed with the same
    conditional UPDATE as any claim, together with the job's run list, and only while `lease`
    holds the job. Returns the runs it took."""
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job.pk, lease=lease, state=JobState.READY).first()
        head = Run.objects.filter(id=job.run_ids[0]).first() if job else None
        pending = Run.objects.filter(status=RunStatus.PENDING)
        if head is None or not head.batch_key or pending.filter(priority__gt=head.priority).exists():
            return []  # not a batchable job, or more urgent work must not wait behind a longer batch
        compatible = pending.filter(batch_key=head.batch_key, priority=head.priority)
        unstarted = dict(
            Run.objects.filter(batch_key=head.batch_key, priority=head.priority, status__in=NOT_STARTED)
            .exclude(job_id="")
            .values_list("job_id")
            .annotate(count=Count("id"))
            .order_by()
        )
        total = compatible.count() + sum(unstarted.values())
        share = min(settings.COSMOS["BATCH_MAX_RUNS"], math.ceil(total / max(1, len(unstarted))))
        candidates = _pending().filter(batch_key=head.batch_key, priority=head.priority)
        ids = list(candidates.values_list("id", flat=True)[: max(0, share - unstarted.get(job.name, 0))])
        if not ids or not run_transition(ids, from_=[RunStatus.PENDING], to=RunStatus.QUEUED, host=job.host, job_id=job.name):
            return []
        taken = list(Run.objects.filter(id__in=ids, job_id=job.name).order_by("created_at", "id"))
        job.run_ids = [*job.run_ids, *(run.id for run in taken)]
        job.folder = job.folder or batch_folder_name([head, *taken])
        job.save(update_fields=["run_ids", "folder"])
        return taken


def _growing_keys(host: GPUHost) -> set[str]:
    """Batch keys whose pending runs a job not started yet will take in (batch_grow), so a
    prefetch job of their own on `host` would only split them: keys of this host's unstarted
    jobs with room, and of any host's unstarted job with room that is about to start on a free
    slot (it starts sooner than anything prefetched here)."""
    counts = (
        Run.objects.filter(status__in=NOT_STARTED)
        .exclude(batch_key="")
        .exclude(job_id="")
        .values_list("job_id", "batch_key")
        .annotate(count=Count("id"))
        .order_by()
    )
    room = {job_id: key for job_id, key, count in counts if count < settings.COSMOS["BATCH_MAX_RUNS"]}
    unstarted = Job.objects.filter(name__in=room, state__in=UNSTARTED_JOB_STATES).select_related("host")
    return {room[job.name] for job in unstarted if job.host_id == host.pk or slot_free(job)}


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


def slot_blocker(job: Job) -> Job | None:
    """The job whose container's end would let this one start, when one end is all it takes:
    exactly `slots` jobs are ahead of it and one of them runs (the one that started first, the
    likeliest to end first). The pipeline waits on that container itself, so the next job starts
    the moment it dies, before its own worker has even recorded the end."""
    host = job.host
    if host is None:
        return None
    ahead = list(Job.objects.filter(host=host, state__in=GPU_JOB_STATES, id__lt=job.id).order_by("started_at", "id"))
    running = [other for other in ahead if other.state == JobState.RUNNING]
    return running[0] if len(ahead) == host.slots and running else None


def dispatch_soon() -> None:
    """Ask for a dispatch once the current transaction commits (at once outside one)."""
    transaction.on_commit(_dispatch_enqueue)


def _dispatch_enqueue() -> None:
    # A dispatch task still in the queue, not yet taken by a worker, runs after this moment and
    # so sees what was just committed: a burst of submits costs one dispatch, and the job tasks
    # that dispatch enqueues do not queue behind a pile of redundant ones.
    waiting = OrmQ.objects.filter(lock__lte=timezone.now()).order_by("-id")[:DISPATCH_LOOKAHEAD]
    if not any(task.func() == DISPATCH_TASK for task in waiting):
        async_task(DISPATCH_TASK, task_name="cosmos-dispatch", group="cosmos")


def job_enqueue(job: Job) -> None:
    """Hand a job to the task queue; its lease says which worker may take it."""
    async_task("runs.tasks.job_task", job.pk, job.lease, task_name=f"cosmos-job-{job.name}", group="cosmos-jobs")
