"""Submit at most once per `Idempotency-Key`: a client that retries after a timeout gets the same runs.

The key is stored per user with a hash of the request. The same key with the same request returns
the runs it created (their current state); with a different request it is a `Conflict`. The key
row and the runs are written in one transaction, so a failed submission stores no key (fix the
request and send it again with the same key), and two concurrent requests with one key create
runs once: the second waits on the unique (owner, key) row and then sees the first one's runs.
Keys expire after `KEY_TTL`, as with Stripe's API, so the table does not grow without end.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from prompts.errors import Conflict, InvalidInput
from runs.models import IdempotencyKey, Run
from runs.submit import Submission

KEY_TTL = timedelta(hours=24)
KEY_RE = re.compile(r"^[\x21-\x7e]{1,200}$")  # printable ASCII without spaces, as a header value
HEADER = "Idempotency-Key"


def request_hash(request_data: Any) -> str:
    """SHA-256 of the request in canonical JSON (sorted keys, no spacing)."""
    canonical = json.dumps(request_data, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def submit_once(
    *, user, key: str, request_data: Any, submit: Callable[[], Submission]
) -> tuple[Submission, bool]:
    """Run `submit()` unless `user` already sent `key`; return the submission and whether it is a replay."""
    if not KEY_RE.match(key):
        raise InvalidInput(f"{HEADER} must be 1 to 200 printable characters without spaces.", field=HEADER)
    digest = request_hash(request_data)
    with transaction.atomic():
        IdempotencyKey.objects.filter(owner=user, key=key, created_at__lt=timezone.now() - KEY_TTL).delete()
        record, created = IdempotencyKey.objects.get_or_create(
            owner=user, key=key, defaults={"request_hash": digest}
        )
        if not created:
            if record.request_hash != digest:
                raise Conflict(
                    f"{HEADER} {key!r} was used for a different request; use a new key for a new request.",
                    field=HEADER,
                )
            return _replay(record), True
        submission = submit()
        record.run_ids = [run.id for run in submission.runs]
        record.batch_id = submission.batch_id
        record.batch_name = submission.batch_name
        record.save(update_fields=["run_ids", "batch_id", "batch_name"])
    return submission, False


def _replay(record: IdempotencyKey) -> Submission:
    found = {run.id: run for run in Run.objects.filter(id__in=record.run_ids).select_related("prompt", "owner")}
    # Runs deleted since the first request are simply no longer there.
    runs = [found[run_id] for run_id in record.run_ids if run_id in found]
    return Submission(runs=runs, batch_id=record.batch_id, batch_name=record.batch_name)
