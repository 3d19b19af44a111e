"""The Run: one GPU operation on one prompt, and its lifecycle."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from gpu.models import GPUHost
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
    execution_config = models.JSONField(default=dict, blank=True)
    outputs = models.JSONField(default=dict, blank=True)
    run_metadata = models.JSONField(default=dict, blank=True)
    # {"stage": "...", "step": n, "total_steps": n, "clip": n, "total_clips": n, "percent": 0..100}
    progress = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    priority = models.IntegerField(default=0)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    batch_id = models.CharField(max_length=64, blank=True, db_index=True)
    batch_name = models.CharField(max_length=100, blank=True)
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

    class Meta:
        ordering = ["-created_at", "id"]
        indexes = [
            models.Index(fields=["status", "-priority", "created_at"], name="run_status_idx"),
            models.Index(fields=["prompt", "-created_at"], name="run_prompt_idx"),
            models.Index(fields=["owner", "-created_at"], name="run_owner_created_idx"),
            models.Index(fields=["-created_at"], name="run_created_idx"),
            models.Index(fields=["owner", "idempotency_key"], name="run_idempotency_idx"),
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
