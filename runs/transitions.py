"""Status transitions of runs: every one a conditional UPDATE that stamps its time.

`run_transition(ids, from_=..., to=...)` changes only the rows still in one of the `from_`
statuses and returns how many it changed, so two workers (or a worker and a user cancelling)
racing on one run can never both win. Nothing else in runs/ writes `Run.status`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.utils import timezone

from runs.models import Run, RunStatus

# The timestamp each target status sets (completed_at closes every finished run).
STAMPS = {
    RunStatus.QUEUED: "queued_at",
    RunStatus.UPLOADING: "uploading_at",
    RunStatus.RUNNING: "started_at",
    RunStatus.DOWNLOADING: "downloading_at",
    RunStatus.CANCELLING: "cancel_requested_at",
    RunStatus.COMPLETED: "completed_at",
    RunStatus.FAILED: "completed_at",
    RunStatus.CANCELLED: "completed_at",
}

# Which statuses may move to which (checked here so a wrong call fails loudly in tests).
ALLOWED = {
    RunStatus.PENDING: {RunStatus.QUEUED, RunStatus.CANCELLED, RunStatus.FAILED},
    RunStatus.QUEUED: {RunStatus.UPLOADING, RunStatus.PENDING, RunStatus.CANCELLED, RunStatus.FAILED},
    RunStatus.UPLOADING: {RunStatus.RUNNING, RunStatus.PENDING, RunStatus.CANCELLED, RunStatus.FAILED},
    RunStatus.RUNNING: {RunStatus.DOWNLOADING, RunStatus.CANCELLING, RunStatus.FAILED},
    RunStatus.DOWNLOADING: {RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLING},
    RunStatus.CANCELLING: {RunStatus.CANCELLED, RunStatus.FAILED},
    RunStatus.COMPLETED: {RunStatus.FAILED},  # integrity --fix marks a completed run whose files broke
}


def run_transition(
    ids: Iterable[str] | str,
    *,
    from_: Iterable[str],
    to: str,
    **fields: Any,
) -> int:
    """Move the runs in `ids` that are in a `from_` status to `to`; return how many moved."""
    ids = [ids] if isinstance(ids, str) else list(ids)
    from_ = list(from_)
    for source in from_:
        if to not in ALLOWED.get(source, set()):
            raise ValueError(f"run status {source} cannot become {to}")
    now = timezone.now()
    values = {"status": to, "updated_at": now, **fields}
    if to in STAMPS:
        values.setdefault(STAMPS[to], now)
    if not ids:
        return 0
    return Run.objects.filter(id__in=ids, status__in=from_).update(**values)
