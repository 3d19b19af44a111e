"""Reads of PNG-sequence preparation: the jobs a user may see (their own; staff see all)."""

from __future__ import annotations

from django.db.models import QuerySet

from prompts.access import visible_to
from prompts.errors import NotFound
from prompts.prepare.models import PreparationJob


def preparations_for_user(*, user) -> QuerySet[PreparationJob]:
    return visible_to(PreparationJob.objects.all(), user)


def preparation_get(*, user, job_id: str) -> PreparationJob:
    """The job, if `user` may see it; NotFound otherwise (another user's job is never revealed)."""
    job = preparations_for_user(user=user).filter(pk=job_id).first()
    if job is None:
        raise NotFound(f"No preparation {job_id!r}.")
    return job
