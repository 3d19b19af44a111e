"""Reconcile: look after jobs whose worker went quiet (killed, host rebooted, machine lost).

A job whose heartbeat is older than STALE_SECONDS is handed to a new worker with a new lease
(a conditional UPDATE, so two reconcilers never both take it):
 - not started yet (claimed/uploading/ready): it simply starts over from its upload;
 - container still running: the new worker re-attaches and follows the log from the mark;
 - container ended: the new worker drains the rest of the log and collects the outputs;
 - container gone without a trace: the new worker finds nothing and fails the run, named.
A job whose host cannot be reached is left for the next round, and failed as lost once its
heartbeat is older than LOST_AFTER_SECONDS. Nothing here starts a container.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from gpu.errors import TransportError
from gpu.executor import executor_for
from runs import reasons
from runs.dispatcher import job_enqueue, new_lease
from runs.pipeline import CONNECTION_ERRORS
from runs.models import UNFINISHED_JOB_STATES, UNSTARTED_JOB_STATES, Job, JobState, RunStatus
from runs.transitions import run_transition


@dataclass
class Action:
    job: str
    host: str
    action: str  # restarted | re-attached | collecting | waiting | failed | skipped
    detail: str
    runs: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def reconcile() -> list[Action]:
    now = timezone.now()
    stale = now - timedelta(seconds=settings.COSMOS["STALE_SECONDS"])
    jobs = Job.objects.filter(state__in=UNFINISHED_JOB_STATES, heartbeat_at__lt=stale).select_related("host")
    return [_reconcile(job, now) for job in jobs]


def _reconcile(job: Job, now) -> Action:
    action = Action(job=job.name, host=job.host.name if job.host else "", action="skipped", detail="", runs=job.run_ids)
    if job.state in UNSTARTED_JOB_STATES or job.host is None:
        return _hand_over(job, action, "restarted", "No container had started; the job starts over from its upload.")
    try:
        with executor_for(job.host) as executor:
            state = executor.job_state(job.name)
    except CONNECTION_ERRORS as error:
        lost_after = timedelta(seconds=settings.COSMOS["LOST_AFTER_SECONDS"])
        if job.heartbeat_at and job.heartbeat_at < now - lost_after:
            return _fail_lost(job, action, error.message)
        action.action, action.detail = "waiting", f"Host unreachable ({error.message}); will look again."
        return action
    except TransportError as error:  # the host answers but the look failed: a worker settles it
        return _hand_over(job, action, "collecting", f"Could not look at the container ({error.message}).")
    if state.running:
        return _hand_over(job, action, "re-attached", "The container still runs; following its log from the mark.")
    if state.exists:
        return _hand_over(job, action, "collecting", f"The container ended (exit {state.exit_code}); collecting.")
    return _hand_over(job, action, "collecting", "No container found; the worker settles what is left.")


def _take(job: Job) -> str | None:
    lease = new_lease()
    taken = Job.objects.filter(pk=job.pk, lease=job.lease, heartbeat_at=job.heartbeat_at).update(
        lease=lease, heartbeat_at=timezone.now()
    )
    return lease if taken else None


def _hand_over(job: Job, action: Action, what: str, detail: str) -> Action:
    lease = _take(job)
    if lease is None:
        action.detail = "Another worker took it meanwhile."
        return action
    job.lease = lease
    job_enqueue(job)
    action.action, action.detail = what, detail
    return action


def _fail_lost(job: Job, action: Action, why: str) -> Action:
    if _take(job) is None:
        action.detail = "Another worker took it meanwhile."
        return action
    code, message = reasons.named(reasons.LOST_CONNECTION, f"Last error: {why}")
    started = [RunStatus.QUEUED, RunStatus.UPLOADING, RunStatus.RUNNING, RunStatus.DOWNLOADING]
    run_transition(job.run_ids, from_=started, to=RunStatus.FAILED, failure_reason=code, error=message)
    run_transition(job.run_ids, from_=[RunStatus.CANCELLING], to=RunStatus.CANCELLED)
    Job.objects.filter(pk=job.pk).update(state=JobState.DONE, outcome="lost", error=message, finished_at=timezone.now())
    action.action, action.detail = "failed", message
    return action
