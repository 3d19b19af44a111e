"""The runs layer's view of GPU hosts: which hosts a command means, and a host's status with
the operations our runs have on it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from typing import Any

from gpu.errors import GPUError
from gpu.executor import executor_for
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


LIVE_QUERIES_AT_ONCE = 16


def hosts_status(hosts: list[GPUHost], *, viewer) -> list[dict[str, Any]]:
    """`host_status` of each host. The hosts are asked all at once: a host that does not answer
    costs its connect timeout (10 s) once, instead of delaying every host after it, and a web
    request thread is held that long at most."""
    with ThreadPoolExecutor(max_workers=max(1, min(LIVE_QUERIES_AT_ONCE, len(hosts)))) as pool:
        live = list(pool.map(_live, hosts))
    return [host_status(host, viewer=viewer, live=answer) for host, answer in zip(hosts, live)]


def host_status(host: GPUHost, *, viewer, live: dict[str, Any]) -> dict[str, Any]:
    """GPU info, containers, active operations (run, type, prompt) and queue of one host, from
    `live` (what the host said: `_live`) and the database. A run the viewer may not see shows as
    "another user's run", without id or prompt."""
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


def _live(host: GPUHost) -> dict[str, Any]:
    """What the host itself says: its GPUs and containers, or why it could not be asked. No
    database access: it runs in threads of its own (hosts_status)."""
    try:
        with executor_for(host) as executor:
            return {
                "gpus": [asdict(gpu) for gpu in executor.gpu_info()],
                "containers": [asdict(info) for info in executor.containers()],
                "error": "",
            }
    except GPUError as error:
        return {"gpus": [], "containers": [], "error": error.message}


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

