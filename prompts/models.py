"""The Prompt: text plus control videos, owned by a user, the input of every run."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from prompts.fields import JSONField

# NVIDIA's default negative prompt from cosmos-transfer1's inference examples.
DEFAULT_NEGATIVE_PROMPT = (
    "The video captures a game playing, with bad crappy graphics and cartoonish frames. It represents "
    "a recording of old outdated games. The lighting looks very fake. The textures are very raw and "
    "basic. The geometries are very primitive. The images are very pixelated and of poor CG quality. "
    "There are many subtitles in the footage. Overall, the video is unrealistic at all."
)


class ModelType(models.TextChoices):
    TRANSFER = "transfer", "Transfer"
    ENHANCE = "enhance", "Enhance"
    UPSCALE = "upscale", "Upscale"
    REASON = "reason", "Reason"
    PREDICT = "predict", "Predict"


class Prompt(models.Model):
    id = models.CharField(primary_key=True, max_length=40, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="prompts")
    name = models.CharField(max_length=100, blank=True, db_index=True)
    # True while the name is the automatic one: the smart-name task may still replace it.
    name_is_auto = models.BooleanField(default=True)
    model_type = models.CharField(max_length=16, choices=ModelType.choices, default=ModelType.TRANSFER)
    prompt_text = models.TextField()
    negative_prompt = models.TextField(blank=True, default=DEFAULT_NEGATIVE_PROMPT)
    # {"color": {"path", "sha256", "size", "width", "height", "fps", "frames"}, "depth": {...}, ...}
    inputs = JSONField(default=dict, blank=True)
    parameters = JSONField(default=dict, blank=True)
    enhanced_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="enhanced_versions"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Not stored, and only meaningful on what prompts.services.prompt_create returns: False when an
    # identical prompt (same owner, text, videos, parameters) already existed and came back instead.
    was_created: bool = True

    class Meta:
        ordering = ["-created_at", "id"]
        indexes = [
            models.Index(fields=["model_type"], name="prompt_model_type_idx"),
            models.Index(fields=["owner", "-created_at"], name="prompt_owner_created_idx"),
            models.Index(fields=["-created_at"], name="prompt_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.name}"


# PNG-sequence preparation keeps its model in its own package; importing it here registers it.
from prompts.prepare.models import PreparationJob  # noqa: E402,F401
