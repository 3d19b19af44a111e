"""Building new runs: the rows a submission creates, validated before anything is written.

`runs.services` calls these inside its transactions; they know nothing about who may act
(the services checked that) and never touch a host.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from prompts.errors import InvalidInput
from prompts.models import Prompt
from runs.models import Run, RunStatus
from runs.params import batch_key

BATCH_NAME_MAX = 100
BATCH_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]*$")


@dataclass
class Submission:
    """What a submit service returns: the runs it created (unsaved for a dry run) and, for a
    dry run, the exact specs, JSONL and container commands it would send."""

    runs: list[Run]
    dry_run: bool = False
    batch_id: str = ""
    batch_name: str = ""
    plan: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "batch_id": self.batch_id,
            "batch_name": self.batch_name,
            "run_ids": [run.id for run in self.runs],
            "plan": self.plan,
        }


def batch_name_clean(name: str | None) -> str:
    name = (name or "").strip()
    if not name:
        return ""
    if len(name) > BATCH_NAME_MAX or not BATCH_NAME_RE.match(name):
        raise InvalidInput(
            "A batch name is up to 100 letters, digits, spaces, '_', '.' or '-', starting with a letter or digit.",
            field="batch_name",
        )
    return name


def new_batch_id() -> str:
    return f"bt_{uuid.uuid4().hex[:16]}"


def run_build(
    *,
    prompt: Prompt,
    model_type: str,
    config: dict[str, Any],
    submitted_by,
    priority: int = 0,
    parent: Run | None = None,
    batch_id: str = "",
    batch_name: str = "",
    mergeable: bool = True,
) -> Run:
    """An unsaved pending Run of `prompt`; it belongs to the prompt's owner (a staff user acting
    on someone's prompt makes that user's run), and remembers who asked for it."""
    key = batch_key(owner_id=prompt.owner_id, model_type=model_type, config=config) if mergeable else ""
    return Run(
        prompt=prompt,
        owner_id=prompt.owner_id,
        model_type=model_type,
        status=RunStatus.PENDING,
        execution_config=config,
        run_metadata={"submitted_by": submitted_by.get_username()},
        priority=priority,
        parent=parent,
        batch_id=batch_id,
        batch_name=batch_name,
        batch_key=key,
    )


def prompt_inputs_check(prompt: Prompt) -> None:
    """Refuse a prompt that has no colour video to run on."""
    color = (prompt.inputs or {}).get("color")
    if not color or not color.get("sha256"):
        raise InvalidInput(f"Prompt {prompt.id} has no input video; create it with a video folder.", field="prompt")
