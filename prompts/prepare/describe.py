"""The name and the description of a prepared sequence.

Name: the one the user gave, else the smart name (KeyBERT, `prompts.naming`) of what the user wrote
about the sequence (the prompt text to create, else the description), else the source folder's or
zip's name. It becomes part of a folder name, so it is reduced to `a-z 0-9 _ -`.

Description: the one the user gave, else one built from the sequence facts. Asked to describe
the frames with AI (`use_ai`), we would caption them with an image-caption model; none can be had
offline here, so the result says so in a notice and falls back to the facts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from prompts.naming import smart_name
from prompts.prepare.discovery import MODALITIES, SequenceReport
from prompts.prepare.geometry import Fit, FramePlan

MAX_NAME_CHARS = 60
NO_CAPTION_MODEL = (
    "No image-caption model is available offline, so the description was built from the sequence "
    "facts instead of from the frames."
)
_UNSAFE = re.compile(r"[^a-z0-9_-]+")


@dataclass(frozen=True)
class Description:
    text: str
    source: str  # "given" or "sequence facts"
    notice: str | None = None


def describe(report: SequenceReport, plan: FramePlan, fps: Fraction, *, given: str, use_ai: bool) -> Description:
    if given:
        return Description(text=given, source="given")
    return Description(
        text=facts_description(report, plan, fps), source="sequence facts", notice=NO_CAPTION_MODEL if use_ai else None
    )


def facts_description(report: SequenceReport, plan: FramePlan, fps: Fraction) -> str:
    """E.g. `121 frames of color, depth and segmentation at 1280x704, 5.04 s at 24 fps.`"""
    names = [name for name in MODALITIES if name in report.passes]
    passes = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
    width, height = plan.target
    text = (
        f"{report.frame_count} frames of {passes} at {width}x{height}, "
        f"{report.frame_count / float(fps):.2f} s at {_number(fps)} fps"
    )
    if not plan.identity:
        action = "padded" if plan.fit is Fit.PAD else "cropped"
        text += f" (rendered at {plan.source[0]}x{plan.source[1]}, scaled and {action})"
    return text + "."


def choose_name(*, given: str, texts: list[str], fallback: str) -> str:
    """The user's name (checked by `prepare_options`), else a smart name from the first non-empty text,
    else `fallback`; folder-safe."""
    if given:
        return folder_safe(given)
    for text in texts:
        if text.strip():
            name = folder_safe(smart_name(text))
            if name:
                return name
    return folder_safe(fallback) or "sequence"


def folder_safe(name: str) -> str:
    """`Urban Scene #2` -> `urban_scene_2`: lower case, runs of other characters as one `_`."""
    return _UNSAFE.sub("_", name.strip().lower()).strip("_-")[:MAX_NAME_CHARS].rstrip("_-")


def _number(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{float(value):.3f}".rstrip("0")
