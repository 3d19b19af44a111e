"""A job's log on our side: each run's execution.log (and a batch's batch_run.log), written
as the container prints, and announced to each run's channel group.

The local files are the source of truth, and a worker may die at any moment. So after every
append the job records a mark, `{"remote": offset reached in the container's log, "files":
{path: size}}` (`Job.log_marks`, an UPDATE conditional on the lease). A worker that takes the
job over cuts each file back to its marked size (dropping at most the lines appended after the
last mark, which it is about to append again, identically) and resumes the container's log
from the marked offset: no line is lost and none is written twice.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from django.utils import timezone

from logs.files import LogFile
from logs.publish import LogPublisher, group_name
from runs.models import Job, Run
from runs.outputs import BATCH_LOG, batch_dir, run_log_path


def run_group(run_id: str) -> str:
    """The channel group a run's page listens on."""
    return group_name(f"run-{run_id}")


class JobLogs:
    """The log files of one job's runs (and its batch log)."""

    def __init__(self, job: Job, runs: Iterable[Run]):
        runs = list(runs)
        self.paths = [run_log_path(run) for run in runs]
        self.publishers = [LogPublisher(run_log_path(run), run_group(run.id)) for run in runs]
        writers: list[LogFile | LogPublisher] = list(self.publishers)
        if job.folder:
            self.paths.append(batch_dir(job) / BATCH_LOG)
            writers.append(LogFile(self.paths[-1]))
        for path in self.paths:
            path.parent.mkdir(parents=True, exist_ok=True)
        self.writers = dict(zip((str(path) for path in self.paths), writers))
        self.remote = 0

    def note(self, text: str) -> None:
        """A line of our own (what was uploaded, how it ended) in every file of the job."""
        stamp = timezone.localtime().strftime("%m-%d %H:%M:%S")
        self._append_all([f"[{stamp}|INFO|cosmos-workflow] {text}"])
        self.flush()  # a note may follow a batch within the throttle: no later batch would send it

    def mark(self) -> dict:
        """Where the copy stands now, to be saved in `Job.log_marks`."""
        return {"remote": self.remote, "files": {key: _size(Path(key)) for key in self.writers}}

    def resume(self, marks: dict) -> int:
        """Cut every file back to its mark and return the remote offset to follow from."""
        sizes = marks.get("files", {})
        for key in self.writers:
            marked = sizes.get(key)
            if marked is not None and _size(Path(key)) > marked:
                os.truncate(key, marked)
        self.remote = int(marks.get("remote", 0))
        return self.remote

    def append(self, lines: list[str], remote_offset: int) -> None:
        """Append container lines that end at `remote_offset` in the container's log."""
        self._append_all(lines)
        self.remote = remote_offset

    def tail(self, count: int = 60) -> list[str]:
        """The last lines of the job's log (the batch log for a batch), to name a failure."""
        return LogFile(self.paths[-1]).tail(count)

    def flush(self, *, state_changed: bool = False) -> None:
        """Send the wake-ups the publishers held back; with `state_changed`, also tell the pages
        to re-read the run's status and progress."""
        for publisher in self.publishers:
            publisher.state_changed() if state_changed else publisher.flush()

    def _append_all(self, lines: list[str]) -> None:
        for writer in self.writers.values():
            if isinstance(writer, LogPublisher):
                writer.write(lines)
            else:
                writer.append(lines)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0
