"""The runs layer's view of GPU hosts: which hosts a command means, and a host's status with
the operations our runs have on it."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from gpu.live import hosts_say
from gpu.models import GPUHost
from prompts.access import can_act
from prompts.errors import NotFound
from runs.models import GPU_JOB_STATES, UNFINISHED_JOB_STATES, Job, JobState, Run, RunStatus


def hosts_named(name: str | None, *, enabled_only: bool = True) -> list[GPUHost]:
    hosts = GPUHost.objects.all()
    if enabled_only:
        hosts = hosts.filter(enabled=True)
    if name:
        hosts = hosts.filter(name=name)
        if not hosts.exists():
            raise NotFound(f"No GPU host named {name!r}; `cosmos host list` shows them.")
    return list(hosts)


def hosts_status(hosts: list[GPUHost], *, viewer, wait_for_all: bool = False) -> list[dict[str, Any]]:
    """`host_status` of each host, with what the hosts say from gpu.live: all asked at once, in
    the background, so a host that does not answer holds no request for its 10 s timeout. Answers
    not at hand are waited for COSMOS["HOST_STATUS_WAIT_SECONDS"] at most (then the last ones are
    shown), or, with `wait_for_all`, until every host has answered."""
    answers = hosts_say(hosts, wait=None if wait_for_all else settings.COSMOS["HOST_STATUS_WAIT_SECONDS"])
    return [host_status(host, viewer=viewer, live=answer) for host, answer in zip(hosts, answers)]


def host_status(host: GPUHost, *, viewer, live: dict[str, Any]) -> dict[str, Any]:
    """GPU info, containers, active operations (run, type, prompt) and queue of one host, from
    `live` (what the host said: gpu.live.hosts_say) and the database. A run the viewer may not see
    shows as "another user's run", without id or prompt."""
    status: dict[str, Any] = {
        "host": host.name,
        "address": host.address,
        "simulated": host.simulated,
        "enabled": host.enabled,
        "slots": host.slots,
        "gpus_per_job": host.gpus_per_job,
        **live,
    }
    jobs = Job.objects.filter(host=host, state__in=UNFINISHED_JOB_STATES)
    runs = Run.objects.filter(job_id__in=jobs.values("name")).exclude(status__in=[RunStatus.CANCELLED]).select_related("prompt")
    # The GPUs a job holds while its container runs (runs/devices.py).
    held = dict(jobs.filter(state=JobState.RUNNING).values_list("name", "gpus"))
    status["operations"] = [{**_operation(run, viewer), "gpus": held.get(run.job_id) or []} for run in runs]
    status["queued_jobs"] = jobs.filter(state__in=GPU_JOB_STATES).exclude(state="running").count()
    status["pending_runs"] = Run.objects.filter(status=RunStatus.PENDING).count()
    return status


def _operation(run: Run, viewer) -> dict[str, Any]:
    if not can_act(viewer, run):
        return {"run_id": None, "label": "another user's run", "status": run.status}
    return {
        "run_id": run.id,
        "model_type": run.model_type,
        "prompt_id": run.prompt_id,
        "prompt_name": run.prompt.name,
        "status": run.status,
        "job": run.job_id,
        "progress": run.progress,
    }

