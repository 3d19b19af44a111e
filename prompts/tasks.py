"""Background tasks of the prompts app (django-q2). Each calls a service and nothing else."""

from __future__ import annotations

from prompts.services import prompt_name_refresh


def prompt_smart_name(prompt_id: str) -> str | None:
    """Give a new prompt its KeyBERT name, unless its user named it meanwhile (the model loads once per worker)."""
    return prompt_name_refresh(prompt_id=prompt_id)
