"""PreparationJob: a zip of PNG sequences being prepared in the background, and how far it got.

The row is the progress a page or the API reads (status, stage, percent) and the outcome: the
folder of videos and the prompt made from them, or the error with every problem found. It is
registered with the prompts app by `prompts.models` importing it.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models

from prompts.fields import JSONField


def preparation_id() -> str:
    return f"pp_{secrets.token_hex(6)}"


class PreparationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class PreparationJob(models.Model):
    id = models.CharField(primary_key=True, max_length=20, default=preparation_id, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preparations")
    status = models.CharField(max_length=16, choices=PreparationStatus.choices, default=PreparationStatus.PENDING)
    # What is being done now ("unpacking", "checking frames", "encoding", ...) and how far, 0-100.
    stage = models.CharField(max_length=40, blank=True)
    progress = models.PositiveSmallIntegerField(default=0)
    upload_name = models.CharField(max_length=255)
    # The uploaded zip, kept until the job ends (inside INPUTS_DIR).
    upload_path = models.CharField(max_length=500)
    # name, fps, description, use_ai, fit, prompt_text: as given, already validated.
    options = JSONField(default=dict)
    error = models.TextField(blank=True)
    problems = JSONField(default=list, blank=True)
    notices = JSONField(default=list, blank=True)
    output_dir = models.CharField(max_length=500, blank=True)
    metadata = JSONField(default=dict, blank=True)
    prompt = models.ForeignKey(
        "prompts.Prompt", null=True, blank=True, on_delete=models.SET_NULL, related_name="preparations"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["owner", "-created_at"], name="preparation_owner_created_idx")]

    def __str__(self) -> str:
        return f"{self.id} {self.upload_name} ({self.status})"

    @property
    def finished(self) -> bool:
        return self.status in (PreparationStatus.SUCCEEDED, PreparationStatus.FAILED)
