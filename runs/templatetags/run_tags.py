"""Template filters for runs: progress as a percentage and a phrase, durations and times people read."""

from __future__ import annotations

from datetime import datetime

from django import template

from runs.models import RunStatus
from runs.progress_bar import overall_percent

register = template.Library()


@register.filter
def percent(run) -> int:
    """How far the run is, 0-100 (a completed run is 100 whatever its last progress line said)."""
    if run.status == RunStatus.COMPLETED:
        return 100
    return overall_percent(run.progress)


@register.filter
def stage(run) -> str:
    """The progress as a phrase: "Diffusion sampling · step 14/35"."""
    progress = run.progress or {}
    parts = [str(progress.get("label") or progress.get("stage", "")).replace("_", " ")]
    if progress.get("steps"):
        parts.append(f"step {progress.get('step', 0)}/{progress['steps']}")
    if progress.get("clips"):
        parts.append(f"clip {progress.get('clip', 0)}/{progress['clips']}")
    if (progress.get("batch") or {}).get("total"):
        parts.append(f"batch {progress['batch'].get('done', 0)}/{progress['batch']['total']} done")
    return " · ".join(part for part in parts if part)


@register.filter
def seconds(value) -> str:
    """12 s, 3 min 05 s, 2 h 04 min."""
    if value is None or value == "":
        return "—"
    total = int(round(float(value)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


@register.filter
def iso_datetime(value: str | None) -> datetime | None:
    """An ISO 8601 string of the JSON-shaped dicts (a host's `checked_at`) as a datetime, for `time`."""
    return datetime.fromisoformat(value) if value else None


@register.filter
def since(start: datetime | None, end: datetime | None) -> str:
    """Time from `start` to `end` as `seconds` shows it."""
    if not start or not end:
        return "—"
    return seconds((end - start).total_seconds())


@register.filter
def words(key: str) -> str:
    """A parameter key as a label: "num_steps" -> "Num steps"."""
    return str(key).replace("_", " ").capitalize()
