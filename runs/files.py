"""Reads of a run's output folder for the entry points: its files, one file by name, its log by offset.

Each takes the acting user and goes through `run_get`, so another user's run is `NotFound`. A
file name is one plain name inside the run's folder: no separators, no `..`, no hidden files,
and no symlink that leads out of the folder.
"""

from __future__ import annotations

from pathlib import Path

from logs.errors import LogQueryError
from logs.files import LogFile
from prompts.errors import InvalidInput, NotFound
from runs.models import FINISHED_STATUSES, Run
from runs.output_files import output_file_path, output_files
from runs.outputs import run_log_path
from runs.selectors import run_get

LOG_CHUNK_BYTES = 256 * 1024


def run_files(run: Run) -> list[dict]:
    """The regular files of the run's folder, as the pages list them: [{"name", "size"}]."""
    return [{"name": f.name, "size": f.size} for f in output_files(run)]


def run_file_path(*, user, run_id: str, name: str) -> Path:
    """The path of the file `name` in the run's folder, if `user` may see the run and it exists."""
    run = run_get(user=user, run_id=run_id)
    path = output_file_path(run, name)
    if path is None:
        raise NotFound(f"Run {run.id} has no file {name!r}.", field="name")
    return path


def run_log_read(*, user, run_id: str, offset: int = 0, max_bytes: int = LOG_CHUNK_BYTES) -> dict:
    """The whole log lines of the run after byte `offset`, for clients that poll.

    Returns {"lines", "offset", "next_offset", "status", "finished"}; read again from
    `next_offset` for what follows. `finished` is read before the log, so a client that sees it
    and then an empty chunk has every line.
    """
    run = run_get(user=user, run_id=run_id)
    finished = run.status in FINISHED_STATUSES
    try:
        lines, next_offset = LogFile(run_log_path(run)).read_from(offset, max_bytes)
    except LogQueryError as exc:
        raise InvalidInput(exc.message, field=exc.field) from None
    return {"lines": lines, "offset": offset, "next_offset": next_offset, "status": run.status, "finished": finished}
