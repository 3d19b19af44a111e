"""The pipeline: one job, from claimed to done, on its host.

    claimed -> uploading -> ready -> running -> collecting -> done

`job_execute(job_pk, lease)` is the task entry point. It takes the job with a conditional
UPDATE on the lease the dispatcher (or reconcile) handed out, so a task delivered twice runs
once, and then moves the job on from whatever state it is in: a worker that takes over a job
whose previous worker died resumes it (re-attaches to the running container from the log mark,
or collects its outputs) instead of starting it again.

 - uploading: the inputs go into the host's content-addressed cache (skipped when there).
   This happens while the GPU may still be busy with the host's previous job (prefetch).
 - ready: waits for a GPU slot (runs/dispatcher.py: slot_free), woken by the death of the
   container ahead (`docker wait`) rather than by its worker's bookkeeping, and meanwhile takes
   in compatible runs that arrived since the claim (batch_grow); then starts the container
   detached, named after the job; the run set is fixed at that moment (a run cancelled before
   is left out).
 - running: follows the container's log into the runs' execution.log, parses progress into
   the runs, until the container has ended and its log is drained.
 - collecting: downloads outputs into a staging folder, moves them into each run's folder,
   writes posters and the manifest, and finishes each run: completed, or failed with a named
   reason. A failed run keeps its log.

A host that cannot be reached before the container started sends the runs back to pending
(with a note) or, after HOST_ATTEMPTS, fails them; after the start the container keeps working
on its own, the job is left to reconcile, and nothing is half-written either way.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.db import transaction
from django.db.models import Case, F, IntegerField, When
from django.utils import timezone

from gpu.errors import (
    AuthFailed,
    ConnectionLost,
    DockerStartFailed,
    GPUError,
    HostKeyMismatch,
    HostUnreachable,
    JobNotFound,
    RemoteCommandFailed,
    TransportError,
    TransportTimeout,
    UnknownHostKey,
)
from gpu.executor import executor_for
from logs.timed_batches import timed_batches
from runs import collect, plans, reasons
from runs.devices import gpus_free, gpus_take
from runs.dispatcher import NOT_STARTED, batch_grow, dispatch_soon, new_lease, slot_blocker, slot_free
from runs.heartbeat import Heartbeat
from runs.joblog import JobLogs
from runs.models import UNFINISHED_JOB_STATES, Job, JobState, Run, RunStatus
from runs.progress import ProgressTracker
from runs.transitions import run_transition

logger = logging.getLogger(__name__)

# The follow loop writes what it has at most every PUBLISH_INTERVAL seconds (a line after a
# quiet spell at once), at most MAX_BATCH_LINES at a time: one append, one wake-up per batch,
# not per line, and no line held longer than the interval.
PUBLISH_INTERVAL = 0.01
MAX_BATCH_LINES = 2000
MARK_INTERVAL = 1.0
SLOT_POLL = 0.25
# A job waiting for a slot looks up from the container it waits on this often (a cancel, a lost
# lease, companions to take in); each look costs two docker commands on the host.
SLOT_WAIT = 5.0
KILL_CONFIRM_SECONDS = 15.0
# A worker taking a job for the (MAX_JOB_ATTEMPTS + 1)-th time fails it instead.
MAX_JOB_ATTEMPTS = 5
# The host itself could not be talked to (as opposed to a command on it failing).
CONNECTION_ERRORS = (HostUnreachable, TransportTimeout, ConnectionLost, AuthFailed, HostKeyMismatch, UnknownHostKey)


class LeaseLost(Exception):
    """Another worker owns the job now; this one must stop touching it."""


def job_execute(job_pk: int, lease: str) -> str:
    """Run the job if `lease` still names it; return a word on how it ended (for the task log)."""
    token = new_lease()
    taken = Job.objects.filter(pk=job_pk, lease=lease, state__in=UNFINISHED_JOB_STATES).update(
        lease=token, heartbeat_at=timezone.now(), attempts=F("attempts") + 1
    )
    if not taken:
        return "not ours"
    job = Job.objects.select_related("host").get(pk=job_pk)
    runner = JobRunner(job, token)
    if job.attempts > MAX_JOB_ATTEMPTS:
        # Every worker that took it died or broke on it: stop handing it out.
        why = job.error or "each worker stopped without finishing it"
        runner.fail_all(reasons.WORKER_FAILED, f"Gave up after {job.attempts - 1} attempts: {why}")
        return job.outcome
    return runner.run()


class JobRunner:
    def __init__(self, job: Job, lease: str):
        self.job = job
        self.lease = lease
        self.beat: Heartbeat | None = None
        self.waits_on_host = True  # the slot wait uses `docker wait` on the container ahead
        self.dead_ahead: Job | None = None  # that job, once its container has died

    # --- the whole job ---------------------------------------------------------------------

    def run(self) -> str:
        if self.job.host is None:
            self.fail_all(*reasons.named(reasons.HOST_REMOVED))
            return self.job.outcome
        with Heartbeat(self.job, self.lease, on_beat=lambda: job_stop_unwanted(self.job.name)) as beat:
            self.beat = beat
            try:
                with executor_for(self.job.host) as executor:
                    self.ex = executor
                    self._advance()
            except LeaseLost:
                return "taken over"
            except TransportError as error:
                self._host_trouble(error)
            except GPUError as error:  # the host answered, but refused the job (bad spec, bad id...)
                self.fail_all(reasons.HOST_ERROR, error.message)
            except Exception as error:
                # A bug: keep the words for the next attempt (or for giving up), and let q2 log it.
                Job.objects.filter(pk=self.job.pk, lease=self.lease).update(error=f"{type(error).__name__}: {error}")
                raise
        dispatch_soon()  # whatever happened, this job no longer holds its place
        return self.job.outcome or self.job.state

    def _advance(self) -> None:
        resuming = self.job.state == JobState.RUNNING  # a previous worker started the container
        if self.job.state in (JobState.CLAIMED, JobState.UPLOADING, JobState.READY):
            if not self._stage() or not self._wait_for_slot() or not self._start():
                return
        if self.job.state == JobState.RUNNING:
            self._follow(resuming=resuming)
        if self.job.state == JobState.COLLECTING:
            collect.job_collect(self)

    # --- stages ------------------------------------------------------------------------------

    def _stage(self) -> bool:
        """Upload the inputs of the job's runs; False when nothing is left to run."""
        self._job_update(state=JobState.UPLOADING)
        run_transition(self.job.run_ids, from_=[RunStatus.QUEUED], to=RunStatus.UPLOADING)
        runs = self.runs([RunStatus.UPLOADING])
        if not runs:
            return self._finish_unstarted()
        self._upload(runs, f"Job {self.job.name} on host {self.job.host.name}: uploading inputs of {len(runs)} run(s).")
        self._job_update(state=JobState.READY)
        return True

    def _grow(self) -> None:
        """Take in compatible runs that arrived since the claim (runs/dispatcher.py: batch_grow)
        and upload their inputs: while the GPU is busy with the job ahead, or once as it frees."""
        joined = batch_grow(self.job, self.lease)
        if not joined:
            return
        self.job.refresh_from_db(fields=["run_ids", "folder"])
        ids = [run.id for run in joined]
        run_transition(ids, from_=[RunStatus.QUEUED], to=RunStatus.UPLOADING)
        runs = [run for run in self.runs([RunStatus.UPLOADING]) if run.id in ids]
        if runs:
            self._upload(runs, f"Joined job {self.job.name} on host {self.job.host.name} before its container started: "
                               f"uploading inputs of {len(runs)} run(s).")

    def _upload(self, runs: list[Run], note: str) -> None:
        """Put the inputs of `runs` into the host's cache, and say what it took in their logs."""
        logs = JobLogs(self.job, runs)
        logs.note(note)
        payload = plans.job_payload(self.job, runs)
        sent: dict[str, int] = {}  # the transport reports progress only for bytes it really sends
        for sha256, local_path in payload.uploads.items():

            def record(done: int, _total: int, sha: str = sha256) -> None:
                sent[sha] = done

            self.ex.cache_put(local_path, sha256, on_progress=record)
            self._check_lease()
        sent_bytes = sum(sent.values())
        cached = len(payload.uploads) - len(sent)
        upload = {"files": len(sent), "bytes": sent_bytes, "cached": cached}
        for run in runs:
            Run.objects.filter(pk=run.pk).update(run_metadata={**run.run_metadata, "upload": upload})
        logs.note(f"Inputs on the host: {len(sent)} uploaded ({sent_bytes:,} bytes), {cached} already in its cache.")

    def _wait_for_slot(self) -> bool:
        """Hold the uploaded job until the host has a free GPU slot and GPUs for it, taking in
        compatible runs that arrive meanwhile (and once more as the slot frees). Woken by the
        death of the container it waits behind when there is one to wait on, else by looking again."""
        while True:
            self._check_lease()
            if not self.runs([RunStatus.UPLOADING]):
                return self._finish_unstarted()
            self._grow()
            if self.dead_ahead is not None or (slot_free(self.job) and gpus_free(self.job)):
                return True
            self.dead_ahead = self._await_slot()

    def _await_slot(self) -> Job | None:
        """Wait a while for the slot; the job ahead when its container has died (its slot and
        GPUs are free though its worker may not have recorded the end yet)."""
        blocker = slot_blocker(self.job) if self.waits_on_host else None
        if blocker is not None:
            try:
                if self.ex.job_await_end(blocker.name, seconds=SLOT_WAIT) is not None:
                    return blocker
                return None
            except JobNotFound:  # its worker has not started it yet, or has just removed it
                pass
            except RemoteCommandFailed as error:  # a speed-up only: look at the database instead
                logger.warning("Job %s cannot wait on the host for its slot: %s", self.job.name, error.message)
                self.waits_on_host = False
        time.sleep(SLOT_POLL)
        return None

    def _start(self) -> bool:
        # Runs and job become "running" together: the run set is fixed now (a run cancelled
        # before stays out), and a worker dying here leaves both as they were, or both moved.
        # The job's GPUs are taken in the same step, under the host's lock (runs/devices.py).
        with transaction.atomic():
            gpus = gpus_take(self.job, dead=self.dead_ahead)
            if gpus is None:  # _wait_for_slot saw them free; only a changed host setting gets here
                raise GPUError(f"No free GPUs on host {self.job.host.name} for job {self.job.name}: its slots, GPUs "
                               "per job or GPUs changed while the job waited. Retry the run.")
            ids = [run.id for run in self.runs([RunStatus.UPLOADING])]
            run_transition(ids, from_=[RunStatus.UPLOADING], to=RunStatus.RUNNING)
            runs = self.runs([RunStatus.RUNNING])
            if runs:
                self._job_update(state=JobState.RUNNING, run_ids=[run.id for run in runs], gpus=gpus)
        if not runs:
            return self._finish_unstarted()
        payload = plans.job_payload(self.job, runs)
        plans.payload_files_write(self.job, runs, payload)
        logs = JobLogs(self.job, runs)
        logs.note(f"Starting container cosmos-{self.job.name} ({payload.kind}) on GPU {','.join(map(str, gpus))}.")
        # The mark before the container's first line can arrive; started_at as `docker run` is issued.
        self._job_update(log_marks=logs.mark(), started_at=timezone.now())
        self._container_start(payload, logs)
        dispatch_soon()  # it takes no more companions: compatible runs still pending need a job of their own
        return True

    def _container_start(self, payload: plans.Payload, logs: JobLogs) -> None:
        try:
            plans.container_start(self.ex, self.job, payload)
        except DockerStartFailed as error:
            # The container never ran: docker's words become its log, and collect names the failure.
            logs.note(f"docker could not start the container (exit {error.exit_code}): {error.message}")
            self._job_update(
                state=JobState.COLLECTING, ended_at=timezone.now(), exit_code=error.exit_code, error=error.message
            )
        except RemoteCommandFailed as error:
            # A command on the way (docker itself missing, a folder not writable) said no: the
            # container did not start, and trying again would meet the same answer.
            message = f"The host could not start the container: {error.message}"
            logs.note(message)
            self.fail_all(reasons.HOST_ERROR, message)

    def _follow(self, *, resuming: bool) -> None:
        """Copy the container's log into the runs' logs until it has ended and is drained."""
        runs = self.runs([RunStatus.RUNNING, RunStatus.CANCELLING])
        logs = JobLogs(self.job, runs)
        offset = logs.resume(self.job.log_marks)
        if resuming:
            if not self.ex.job_state(self.job.name).exists and offset == 0:
                # The previous worker died between recording the start and starting the container.
                self._container_start(plans.job_payload(self.job, self.runs([RunStatus.RUNNING])), logs)
                if self.job.state != JobState.RUNNING:
                    return
            else:
                logs.note(f"Re-attached to container cosmos-{self.job.name}; following its log from byte {offset:,}.")
                self._job_update(log_marks=logs.mark())
        tracker = ProgressTracker(self.job, runs)
        marked_at = time.monotonic()
        for lines, end in _drain(self.ex.job_log_follow(self.job.name, offset=offset)):
            self._check_lease()
            logs.append(lines, end)
            # Any past mark is a consistent place to resume from, so marks need not be written
            # per batch: once a second keeps a chatty container from flooding the database.
            if time.monotonic() - marked_at >= MARK_INTERVAL:
                self._job_update(log_marks=logs.mark())
                marked_at = time.monotonic()
            logs.flush(state_changed=tracker.feed(lines))
        tracker.close()
        state = self.ex.job_state(self.job.name)
        exit_code = state.exit_code if state.exists else None
        self._job_update(
            state=JobState.COLLECTING, ended_at=timezone.now(), exit_code=exit_code, log_marks=logs.mark()
        )
        logs.note(f"Container cosmos-{self.job.name} ended with exit code {exit_code}.")
        dispatch_soon()  # the GPU slot is free now: claim the next job while this one collects

    # --- helpers -----------------------------------------------------------------------------

    def runs(self, statuses) -> list[Run]:
        """The job's runs in these statuses, in the job's line order."""
        lines = [When(id=run_id, then=index) for index, run_id in enumerate(self.job.run_ids)]
        order = Case(*lines, output_field=IntegerField())
        return list(
            Run.objects.filter(id__in=self.job.run_ids, job_id=self.job.name, status__in=statuses)
            .select_related("prompt", "parent")
            .order_by(order)
        )

    def _job_update(self, **fields) -> None:
        """Change the job, if it is still ours (else LeaseLost)."""
        if not Job.objects.filter(pk=self.job.pk, lease=self.lease).update(**fields):
            raise LeaseLost(self.job.name)
        for name, value in fields.items():
            setattr(self.job, name, value)

    def _check_lease(self) -> None:
        if self.beat is not None and self.beat.lost.is_set():
            raise LeaseLost(self.job.name)

    def job_done(self, outcome: str, error: str = "") -> None:
        self._job_update(state=JobState.DONE, outcome=outcome, error=error, finished_at=timezone.now())

    def _finish_unstarted(self) -> bool:
        """Every run of the job was cancelled before its container started."""
        run_transition(self.job.run_ids, from_=[RunStatus.CANCELLING], to=RunStatus.CANCELLED)
        self.job_done("cancelled")
        return False

    def fail_all(self, code: str, message: str) -> None:
        ids = list(Run.objects.filter(job_id=self.job.name).values_list("id", flat=True))
        active = [*NOT_STARTED, RunStatus.RUNNING, RunStatus.DOWNLOADING, RunStatus.CANCELLING]
        run_transition(ids, from_=active, to=RunStatus.FAILED, failure_reason=code, error=message)
        Job.objects.filter(pk=self.job.pk).update(
            state=JobState.DONE, outcome="failed", error=message, finished_at=timezone.now()
        )
        self.job.outcome = "failed"

    def _host_trouble(self, error: GPUError) -> None:
        """The host failed us. Before the container started: send the runs back to pending, or
        fail them after HOST_ATTEMPTS. After: the container works on; reconcile takes it up."""
        if self.job.state not in (JobState.CLAIMED, JobState.UPLOADING, JobState.READY):
            # Kept for the worker that gives up on the job after MAX_JOB_ATTEMPTS.
            Job.objects.filter(pk=self.job.pk, lease=self.lease).update(error=error.message)
            logger.warning("Lost host %s while running job %s: %s", self.job.host.name, self.job.name, error.message)
            return
        limit = settings.COSMOS["HOST_ATTEMPTS"]
        unreachable = isinstance(error, CONNECTION_ERRORS)
        what = "could not be reached" if unreachable else "failed before the job started"
        for run in self.runs(NOT_STARTED):
            attempts = run.run_metadata.get("host_attempts", 0) + 1
            note = f"Host {self.job.host.name} {what} ({error.message})"
            metadata = {**run.run_metadata, "host_attempts": attempts, "note": note}
            if attempts >= limit:
                run_transition(
                    run.id,
                    from_=NOT_STARTED,
                    to=RunStatus.FAILED,
                    run_metadata=metadata,
                    failure_reason=reasons.LOST_CONNECTION if unreachable else reasons.HOST_ERROR,
                    error=f"{note}; gave up after {attempts} attempts.",
                )
            else:
                run_transition(
                    run.id, from_=NOT_STARTED, to=RunStatus.PENDING, run_metadata=metadata, host=None, job_id=""
                )
        self.job_done("requeued", error.message)


def job_stop_unwanted(job_name: str) -> None:
    """Honour cancel requests of a started job. A run being cancelled while others of its batch
    still run is dropped from it (cancelled at once; its output is discarded); when no run wants
    the container any more, the container is killed and its runs are cancelled once it is gone."""
    cancelling = list(Run.objects.filter(job_id=job_name, status=RunStatus.CANCELLING).values_list("id", flat=True))
    if not cancelling:
        return
    job = Job.objects.select_related("host").filter(name=job_name).first()
    others_run = Run.objects.filter(job_id=job_name, status__in=[RunStatus.RUNNING, RunStatus.DOWNLOADING]).exists()
    if job is None or job.state == JobState.DONE or others_run:
        run_transition(cancelling, from_=[RunStatus.CANCELLING], to=RunStatus.CANCELLED)
        return
    if job.state != JobState.RUNNING or job.host is None:
        return  # its container has ended: collecting the job cancels these runs
    with executor_for(job.host) as executor:
        executor.job_kill(job.name)
        if not _confirmed(lambda: not executor.job_state(job.name).running):
            raise GPUError(f"Container cosmos-{job.name} is still running after the kill; try again.")
    run_transition(cancelling, from_=[RunStatus.CANCELLING], to=RunStatus.CANCELLED)


def host_kill_all(host, *, actor: str) -> dict:
    """Kill every Cosmos container on `host`; the runs they held end `cancelled`."""
    started = [RunStatus.RUNNING, RunStatus.DOWNLOADING]
    jobs = Job.objects.filter(host=host, state=JobState.RUNNING).values("name")
    ids = list(Run.objects.filter(job_id__in=jobs, status__in=started).values_list("id", flat=True))
    run_transition(ids, from_=started, to=RunStatus.CANCELLING, error=f"Killed by {actor}.")
    with executor_for(host) as executor:
        killed = executor.kill_all()
        still: list[str] = []

        def gone() -> bool:
            still[:] = [info.name for info in executor.containers() if info.running and info.name in killed]
            return not still

        _confirmed(gone)
    if still:
        raise GPUError(f"{', '.join(still)} still running on {host.name} after the kill; try again.")
    run_transition(ids, from_=[RunStatus.CANCELLING], to=RunStatus.CANCELLED)
    # The worker following a container may have seen it die and cancelled its runs first.
    cancelled = list(Run.objects.filter(id__in=ids, status=RunStatus.CANCELLED).values_list("id", flat=True))
    return {"host": host.name, "killed": killed, "cancelled_runs": cancelled}


def _confirmed(check, *, seconds: float = KILL_CONFIRM_SECONDS) -> bool:
    """Poll `check` until it holds or `seconds` pass: a killed container takes a moment to stop."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


def _drain(lines_iter):
    """Batch a blocking iterator of (end offset, line): yield (lines, end offset of the last)
    at most every PUBLISH_INTERVAL, a line after a quiet spell at once (logs.timed_batches).
    The iterator is read in its own thread; the batches are written in the caller's."""
    for items in timed_batches(lines_iter, interval=PUBLISH_INTERVAL, max_items=MAX_BATCH_LINES):
        yield [line for _, line in items], items[-1][0]
