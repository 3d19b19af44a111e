"""Forms of the run pages. They read the request into the shapes runs.services takes; the
services validate ranges and say what to fix (the HTML min/max only guide the browser)."""

from __future__ import annotations

from django import forms
from django.conf import settings

from prompts.models import ModelType
from runs.models import RunStatus
from runs.params import (
    CONTROL_KEYS,
    DEFAULT_WEIGHTS,
    GUIDANCE_RANGE,
    NUM_STEPS_RANGE,
    SEED_RANGE,
    SIGMA_MAX_RANGE,
    STRENGTHS,
)

CONTROL_LABELS = {"vis": "Visual", "edge": "Edge", "depth": "Depth", "seg": "Segmentation"}
STRENGTH_CHOICES = [(s, s.replace("_", " ")) for s in STRENGTHS]


def _number(label, bounds, step, initial, *, integer=False, required=False):
    field = forms.IntegerField if integer else forms.FloatField
    low, high = bounds
    return field(
        label=label,
        required=required,
        initial=initial,
        widget=forms.NumberInput(attrs={"min": low, "max": high, "step": step}),
    )


class InferenceForm(forms.Form):
    """Parameters of a transfer run (one prompt, or several as a batch)."""

    num_steps = _number("Steps", NUM_STEPS_RANGE, 1, None, integer=True)
    guidance = _number("Guidance", GUIDANCE_RANGE, 0.1, None)
    seed = _number("Seed", SEED_RANGE, 1, 1, integer=True)
    sigma_max = _number("Sigma max", SIGMA_MAX_RANGE, 0.5, 70.0)
    blur_strength = forms.ChoiceField(label="Blur strength", choices=STRENGTH_CHOICES, initial="medium")
    canny_threshold = forms.ChoiceField(label="Canny threshold", choices=STRENGTH_CHOICES, initial="medium")
    fps = _number("FPS", (1, 120), 1, None, integer=True)
    negative_prompt = forms.CharField(
        label="Negative prompt",
        required=False,
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Leave empty to use the prompt's own.",
    )
    batch_name = forms.CharField(label="Batch name", required=False, max_length=100)
    priority = forms.IntegerField(
        label="Priority", required=False, initial=0, widget=forms.NumberInput(attrs={"min": -100, "max": 100})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        cosmos = settings.COSMOS
        self.fields["num_steps"].initial = cosmos["DEFAULT_NUM_STEPS"]
        self.fields["guidance"].initial = cosmos["DEFAULT_GUIDANCE"]
        self.fields["fps"].initial = cosmos["DEFAULT_FPS"]
        for key in CONTROL_KEYS:
            self.fields[f"weight_{key}"] = forms.FloatField(
                label=CONTROL_LABELS[key],
                initial=DEFAULT_WEIGHTS[key],
                widget=forms.NumberInput(attrs={"type": "range", "min": 0, "max": 1, "step": 0.05}),
            )

    def weight_fields(self):
        return [self[f"weight_{key}"] for key in CONTROL_KEYS]

    def params(self) -> dict:
        """The parameters for runs.services.inference_submit: only what the user gave."""
        data = self.cleaned_data
        params = {"weights": {key: data[f"weight_{key}"] for key in CONTROL_KEYS}}
        for key in ("num_steps", "guidance", "seed", "sigma_max", "blur_strength", "canny_threshold", "fps"):
            if data.get(key) not in (None, ""):
                params[key] = data[key]
        if data.get("negative_prompt", "").strip():
            params["negative_prompt"] = data["negative_prompt"]
        return params


class UpscaleForm(forms.Form):
    weight = forms.FloatField(
        label="Upscale control weight",
        required=False,
        widget=forms.NumberInput(attrs={"min": 0, "max": 1, "step": 0.05}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["weight"].initial = settings.COSMOS["DEFAULT_UPSCALE_WEIGHT"]


class RunFilterForm(forms.Form):
    """Filters of the runs list (GET); an invalid value is ignored rather than refused."""

    status = forms.ChoiceField(label="Status", required=False, choices=[("", "Any status"), *RunStatus.choices])
    model_type = forms.ChoiceField(label="Type", required=False, choices=[("", "Any type"), *ModelType.choices])
    prompt = forms.CharField(label="Prompt id", required=False, max_length=40)
    owner = forms.CharField(label="Owner", required=False, max_length=150)
    batch = forms.CharField(label="Batch", required=False, max_length=100)

    def filters(self) -> dict:
        if not self.is_valid():
            return {}
        return {key: value for key, value in self.cleaned_data.items() if value}
