"""The Run: one GPU operation on one prompt, and its lifecycle."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from gpu.models import GPUHost
from prompts.fields import JSONField
from prompts.models import ModelType, Prompt


def new_run_id() -> str:
    return f"rs_{uuid.uuid4().hex}"


class RunStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    QUEUED = "queued", "Queued"
    UPLOADING = "uploading", "Uploading"
    RUNNING = "running", "Running"
    DOWNLOADING = "downloading", "Downloading"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLING = "cancelling", "Cancelling"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_STATUSES = (
    RunStatus.PENDING,
    RunStatus.QUEUED,
    RunStatus.UPLOADING,
    RunStatus.RUNNING,
    RunStatus.DOWNLOADING,
    RunStatus.CANCELLING,
)
FINISHED_STATUSES = (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED)


class Run(models.Model):
    id = models.CharField(primary_key=True, max_length=40, default=new_run_id, editable=False)
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="runs")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="runs")
    model_type = models.CharField(max_length=16, choices=ModelType.choices, default=ModelType.TRANSFER)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.PENDING)
    execution_config = JSONField(default=dict, blank=True)
    outputs = JSONField(default=dict, blank=True)
    run_metadata = JSONField(default=dict, blank=True)
    # {"stage": "...", "step": n, "total_steps": n, "clip": n, "total_clips": n, "percent": 0..100}
    progress = JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    priority = models.IntegerField(default=0)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    batch_id = models.CharField(max_length=64, blank=True, db_index=True)
    batch_name = models.CharField(max_length=100, blank=True)
    # Runs with the same non-empty key may share one container (runs/params.py: batch_key).
    batch_key = models.CharField(max_length=64, blank=True)
    # Where and as what it runs: the host, and the job/container name on it.
    host = models.ForeignKey(GPUHost, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs")
    job_id = models.CharField(max_length=80, blank=True, db_index=True)
    idempotency_key = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # The other steps of the lifecycle, each stamped by its transition (runs/transitions.py).
    uploading_at = models.DateTimeField(null=True, blank=True)
    downloading_at = models.DateTimeField(null=True, blank=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    # A failed run's named reason (`out_of_memory`, `lost_connection`, ...); `error` says it in words.
    failure_reason = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["-created_at", "id"]
        indexes = [
            models.Index(fields=["status", "-priority", "created_at"], name="run_status_idx"),
            models.Index(fields=["prompt", "-created_at"], name="run_prompt_idx"),
            models.Index(fields=["owner", "-created_at"], name="run_owner_created_idx"),
            models.Index(fields=["-created_at"], name="run_created_idx"),
            models.Index(fields=["owner", "idempotency_key"], name="run_idempotency_idx"),
            models.Index(fields=["batch_key", "status"], name="run_batch_key_idx"),
            # Lists filtered by status (`GET /api/runs?status=`), in list order, for one owner and for
            # staff: the page and its count come from the index alone (300,000 runs: 28 ms -> 0.4 ms).
            models.Index(fields=["owner", "status", "-created_at", "id"], name="run_owner_status_idx"),
            models.Index(fields=["status", "-created_at", "id"], name="run_status_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.model_type} {self.status}"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.completed_at:
            return (self.completed_at - self.started_at).total_seconds()
        return None


class JobState(models.TextChoices):
    """Where a job (one container on one host) is; runs/pipeline.py moves it forward."""

    CLAIMED = "claimed", "Claimed"  # runs assigned to a host; no worker has started on it yet
    UPLOADING = "uploading", "Uploading"  # inputs going into the host's cache
    READY = "ready", "Ready"  # inputs on the host, waiting for a free GPU slot
    RUNNING = "running", "Running"  # the container was started (or may have been: look before starting again)
    COLLECTING = "collecting", "Collecting"  # the container has ended; outputs coming back
    DONE = "done", "Done"


# Jobs whose container has not started: their run set may still change.
UNSTARTED_JOB_STATES = (JobState.CLAIMED, JobState.UPLOADING, JobState.READY)
# Jobs that hold (or wait for) a GPU slot of their host. A collecting job's container has
# ended: its downloads overlap the next job's run.
GPU_JOB_STATES = (*UNSTARTED_JOB_STATES, JobState.RUNNING)
UNFINISHED_JOB_STATES = (*GPU_JOB_STATES, JobState.COLLECTING)


class Job(models.Model):
    """One container on one host, executing one run or a batch of compatible runs.

    The dispatcher creates it while claiming its runs; the pipeline owns it through `lease`
    (a token set by a conditional UPDATE) and keeps `heartbeat_at` fresh; reconcile hands a job
    whose heartbeat went stale to a new worker. The auto-increment id orders the jobs of a host:
    the first `slots` unfinished ones may have a container running, the rest wait with their
    inputs already uploaded.
    """

    name = models.CharField(max_length=80, unique=True)  # container `cosmos-<name>`, remote jobs/<name>/
    host = models.ForeignKey(GPUHost, null=True, on_delete=models.SET_NULL, related_name="cosmos_jobs")
    kind = models.CharField(max_length=16, choices=ModelType.choices)
    state = models.CharField(max_length=16, choices=JobState.choices, default=JobState.CLAIMED)
    # completed / failed / cancelled / requeued (host down before start) / lost; empty while unfinished.
    outcome = models.CharField(max_length=16, blank=True)
    # The runs in batch-line order (line N of batch.jsonl is run_ids[N]).
    run_ids = JSONField(default=list)
    # A batch's folder name under OUTPUTS_DIR ("batch_<name>_<timestamp>"); empty for one run.
    folder = models.CharField(max_length=200, blank=True)
    lease = models.CharField(max_length=64, blank=True)
    # How many times a worker took the job up; past MAX_JOB_ATTEMPTS it is failed, not retried.
    attempts = models.PositiveIntegerField(default=0)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # How far the container's log has been copied: {"remote": byte offset in the remote log,
    # "files": {local log path: its size at that point}}, recorded after every append. A worker
    # taking the job over cuts each file back to its size here and resumes the remote log from
    # "remote": no line lost, none written twice (runs/joblog.py).
    log_marks = JSONField(default=dict, blank=True)
    exit_code = models.IntegerField(null=True, blank=True)
    # The host's GPU indices the container was given (runs/devices.py); held while the job is
    # running, kept afterwards as a record.
    gpus = JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["host", "state"], name="job_host_state_idx"),
            models.Index(fields=["state", "heartbeat_at"], name="job_state_heartbeat_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.kind} {self.state}"

    @property
    def is_batch(self) -> bool:
        return bool(self.folder)


class IdempotencyKey(models.Model):
    """One `Idempotency-Key` a user sent with `POST /api/runs`, and the runs it created.

    A retried request (same key, same body) gets those runs back instead of new ones; the same
    key with another body is refused. Keys are per user and expire (see runs.idempotency).
    """

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    # SHA-256 of the request body in canonical JSON: "the same request" whatever its spacing.
    request_hash = models.CharField(max_length=64)
    run_ids = JSONField(default=list)
    batch_id = models.CharField(max_length=64, blank=True)
    batch_name = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "key"], name="idempotency_owner_key_uniq")]
        indexes = [models.Index(fields=["created_at"], name="idempotency_created_idx")]

    def __str__(self) -> str:
        return f"{self.owner_id}:{self.key}"
