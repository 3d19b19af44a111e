"""Forms of the prompt pages (create by upload or from a zip of PNG sequences, list filters,
rename). They check shape only; the services decide what is valid."""

from __future__ import annotations

from django import forms
from django.conf import settings

from prompts.models import ModelType

VIDEO_ACCEPT = {"accept": "video/mp4,video/*"}


class PromptCreateForm(forms.Form):
    prompt_text = forms.CharField(
        label="Prompt",
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "What the generated video should show"}),
    )
    name = forms.CharField(
        label="Name", required=False, max_length=100, help_text="Leave empty for a smart name made from the prompt."
    )
    negative_prompt = forms.CharField(
        label="Negative prompt",
        required=False,
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Leave empty for NVIDIA's default negative prompt.",
    )
    color = forms.FileField(label="Color video (color.mp4)", widget=forms.FileInput(attrs=VIDEO_ACCEPT))
    depth = forms.FileField(
        label="Depth video (optional)", required=False, widget=forms.FileInput(attrs=VIDEO_ACCEPT)
    )
    segmentation = forms.FileField(
        label="Segmentation video (optional)", required=False, widget=forms.FileInput(attrs=VIDEO_ACCEPT)
    )

    def files_by_role(self) -> dict:
        return {role: self.cleaned_data[role] for role in ("color", "depth", "segmentation") if self.cleaned_data[role]}


class PromptFilterForm(forms.Form):
    """The list's search box and model-type filter (GET); bad values are simply ignored."""

    q = forms.CharField(label="Search", required=False, max_length=200)
    model_type = forms.ChoiceField(
        label="Model type", required=False, choices=[("", "All types"), *ModelType.choices]
    )


class RenameForm(forms.Form):
    name = forms.CharField(label="Name", max_length=100)


class PrepareZipForm(forms.Form):
    """A zip of PNG sequences (color, and optionally depth and segmentation) made into videos and a prompt."""

    zip = forms.FileField(
        label="Zip of PNG sequences",
        widget=forms.FileInput(attrs={"accept": ".zip,application/zip"}),
        help_text="Folders or file names saying color, depth and segmentation, frames numbered in order.",
    )
    prompt_text = forms.CharField(
        label="Prompt", max_length=10_000, widget=forms.Textarea(attrs={"rows": 3}),
    )
    name = forms.CharField(label="Name", required=False, max_length=100)
    fps = forms.FloatField(label="Frames per second", required=False, widget=forms.NumberInput(attrs={"min": 1, "max": 120}))
    fit = forms.ChoiceField(
        label="Fit to the nearest Cosmos size by",
        choices=[("pad", "padding (keeps the whole frame)"), ("crop", "cropping (fills the frame)")],
        initial="pad",
    )
    description = forms.CharField(label="Description", required=False, max_length=2000)

    def __init__(self, *args, **kwargs):
        # It shares a page with PromptCreateForm: its own element ids keep every label on its field.
        kwargs.setdefault("auto_id", "zip_%s")
        super().__init__(*args, **kwargs)
        self.fields["fps"].initial = settings.COSMOS["DEFAULT_FPS"]
