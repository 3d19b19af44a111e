"""Which GPUs of its host a job's container gets.

A host with `slots` jobs at once gives each `gpus_per_job` device indices that no other job
with a live container there holds (a job holds its devices while it is `running`; once its
container has ended they are free for the next). Taking them happens inside the transaction
that moves the job to running, under the host row's lock (`SELECT ... FOR UPDATE` on
PostgreSQL; SQLite's IMMEDIATE transaction holds the only write lock anyway): two pipelines
starting on one host at the same moment never get the same device.
"""

from __future__ import annotations

from collections.abc import Collection

from gpu.errors import GPUError
from gpu.models import GPUHost
from runs.models import Job, JobState


class GPUsUnavailable(GPUError):
    """The host can never give the job its GPUs (it has fewer than one job needs)."""


def gpus_held(host_id: int, *, exclude: Collection[int] = ()) -> set[int]:
    """Device indices held by the host's jobs whose container is live."""
    held: set[int] = set()
    jobs = Job.objects.filter(host_id=host_id, state=JobState.RUNNING).exclude(pk__in=exclude)
    for gpus in jobs.values_list("gpus", flat=True):
        held.update(gpus or [])
    return held


def gpus_free(job: Job) -> bool:
    """Could the job get its GPUs now? (A hint for waiting; `gpus_take` decides.) Raises
    GPUsUnavailable when the host has fewer GPUs than one job needs: waiting would not help."""
    host = job.host
    _wanted(host)
    return len(set(range(host.gpu_count)) - gpus_held(host.pk, exclude=[job.pk])) >= host.gpus_per_job


def gpus_take(job: Job, *, dead: Job | None = None) -> list[int] | None:
    """The lowest free device indices for the job, or None when too few are free. Call inside
    the transaction that records them on the job (with its state running). `dead`: a job still
    recorded as running whose container is known to have died; its devices are free."""
    host = GPUHost.objects.select_for_update().get(pk=job.host_id)
    wanted = _wanted(host)
    free = sorted(set(range(host.gpu_count)) - gpus_held(host.pk, exclude=[job.pk, *([dead.pk] if dead else [])]))
    return free[:wanted] if len(free) >= wanted else None


def _wanted(host: GPUHost) -> int:
    if host.gpus_per_job > host.gpu_count:
        raise GPUsUnavailable(
            f"Host {host.name} gives each job {host.gpus_per_job} GPUs but has {host.gpu_count}; "
            f"lower its GPUs per job (`cosmos host edit {host.name} --gpus-per-job N`)."
        )
    return host.gpus_per_job
