"""Background task of PNG-sequence preparation (django-q2): it calls the service and nothing else."""

from __future__ import annotations

from prompts.prepare.services import preparation_run


def preparation_run_task(job_id: str) -> None:
    """Prepare an uploaded zip; progress and outcome go to its PreparationJob row."""
    preparation_run(job_id=job_id)
