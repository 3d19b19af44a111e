"""Template filters for runs: progress as a percentage and a phrase, durations people read."""

from __future__ import annotations

from datetime import datetime

from django import template

from runs.models import RunStatus

register = template.Library()


@register.filter
def percent(run) -> int:
    """How far the run is, 0-100 (a completed run is 100 whatever its last progress line said)."""
    if run.status == RunStatus.COMPLETED:
        return 100
    try:
        value = float((run.progress or {}).get("percent") or 0)
    except (TypeError, ValueError):
        return 0
    return max(0, min(100, int(value)))


@register.filter
def stage(run) -> str:
    """The progress as a phrase: "diffusion sampling · step 14/35 · clip 1/1"."""
    progress = run.progress or {}
    parts = []
    if progress.get("stage"):
        parts.append(str(progress["stage"]).replace("_", " "))
    if progress.get("total_steps"):
        parts.append(f"step {progress.get('step', 0)}/{progress['total_steps']}")
    if progress.get("total_clips"):
        parts.append(f"clip {progress.get('clip', 0)}/{progress['total_clips']}")
    return " · ".join(parts)


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
def since(start: datetime | None, end: datetime | None) -> str:
    """Time from `start` to `end` as `seconds` shows it."""
    if not start or not end:
        return "—"
    return seconds((end - start).total_seconds())


@register.filter
def words(key: str) -> str:
    """A parameter key as a label: "num_steps" -> "Num steps"."""
    return str(key).replace("_", " ").capitalize()
