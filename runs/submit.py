"""Building new runs: the rows a submission creates, validated before anything is written.

`runs.services` calls these inside its transactions; they know nothing about who may act
(the services checked that) and never touch a host.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from prompts.errors import DomainError, InvalidInput
from prompts.models import Prompt
from runs.models import Run, RunStatus
from runs.params import batch_key

BATCH_NAME_MAX = 100
BATCH_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]*$")


@dataclass
class Submission:
    """What a submit service returns: the runs it created (unsaved for a dry run), for a dry run
    the exact specs, JSONL and container commands it would send, and for a create-and-run the
    prompt it made (or found)."""

    runs: list[Run]
    dry_run: bool = False
    batch_id: str = ""
    batch_name: str = ""
    plan: list[dict[str, Any]] = field(default_factory=list)
    prompt: Prompt | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "batch_id": self.batch_id,
            "batch_name": self.batch_name,
            "run_ids": [run.id for run in self.runs],
            "plan": self.plan,
            **({"prompt_id": self.prompt.id} if self.prompt is not None else {}),
        }


@dataclass(frozen=True)
class RunRequest:
    """One run a submission asks for: a prompt and the parameters of its own, which take
    precedence over the submission's shared ones. `entry` names where it came from in the
    request ("prompts.2") so an error can say which entry is wrong; empty for a plain id list."""

    prompt_id: str
    params: dict[str, Any] = field(default_factory=dict)
    entry: str = ""


def run_requests(
    *, prompt_ids: Sequence[str] | None, items: Sequence[Mapping[str, Any]] | None
) -> list[RunRequest]:
    """The runs asked for, from exactly one of `prompt_ids` (one run per distinct id, shared
    parameters only) or `items` (`{"prompt_id": ..., **own parameters}`, one run per entry: the
    same prompt may come twice with other weights, a sweep)."""
    if prompt_ids is not None and items is not None:
        raise InvalidInput("Give prompt ids or per-prompt entries, not both.", field="prompts")
    if items is None:
        if isinstance(prompt_ids, str) or any(not isinstance(pid, str) for pid in prompt_ids or ()):
            raise InvalidInput("Prompt ids must be a list of ps_... strings.", field="prompt_ids")
        ids = [pid.strip() for pid in prompt_ids or () if pid.strip()]
        if not ids:
            raise InvalidInput("Give at least one prompt id (ps_...).", field="prompt_ids")
        return [RunRequest(prompt_id=pid) for pid in dict.fromkeys(ids)]
    if isinstance(items, (str, bytes, Mapping)) or not isinstance(items, Sequence) or not items:
        raise InvalidInput("Give a list of at least one {prompt_id, ...parameters} entry.", field="prompts")
    requests = []
    for index, item in enumerate(items):
        entry = f"prompts.{index}"
        if not isinstance(item, Mapping):
            raise InvalidInput(f"Entry {index + 1} must be an object with a prompt_id.", field=entry)
        params = {key: value for key, value in item.items() if key != "prompt_id" and value is not None}
        prompt_id = item.get("prompt_id")
        if not isinstance(prompt_id, str) or not prompt_id.strip():
            raise InvalidInput(f"Entry {index + 1} has no prompt_id (ps_...).", field=f"{entry}.prompt_id")
        requests.append(RunRequest(prompt_id=prompt_id.strip(), params=params, entry=entry))
    return requests


def params_merge(shared: Mapping[str, Any] | None, own: Mapping[str, Any]) -> dict[str, Any]:
    """A run's parameters: the shared ones, each replaced by the run's own where it has one
    (weights as a whole: a control the entry leaves out weighs 0, as everywhere)."""
    return {**(shared or {}), **own}


@contextmanager
def entry_errors(request: RunRequest) -> Iterator[None]:
    """Name the request entry in an error about it: field `prompts.2.weights`, and which prompt."""
    try:
        yield
    except DomainError as error:
        if not request.entry:
            raise
        error.field = f"{request.entry}.{error.field}" if error.field else request.entry
        error.message = f"{request.entry} ({request.prompt_id}): {error.message}"
        error.args = (error.message,)
        raise


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
