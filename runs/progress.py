"""Progress of a job's runs, read from the container's log lines as they arrive.

`logs.parsing.progress_from_line` names the stage (and step/clip) a line announces. One run's
progress is the job's latest. In a batch the container works through its videos in line order
and says `Saved video to .../video_<N>/output.mp4` for each: a saved video's run shows it is
done, the others the batch's current stage with how many of the batch are done. Writes go to
the database at most every WRITE_INTERVAL seconds (and once at the end), only for runs still
running.
"""

from __future__ import annotations

import re
import time

from logs.parsing import progress_from_line
from runs.models import Job, Run, RunStatus

WRITE_INTERVAL = 0.5
_VIDEO_INDEX = re.compile(r"video_(\d+)")


class ProgressTracker:
    def __init__(self, job: Job, runs: list[Run]):
        self.run_ids = [run.id for run in runs]
        self.batch = bool(job.folder)
        self.current: dict = {}
        self.saved: set[int] = set()
        self._dirty = False
        self._written_at = 0.0

    def feed(self, lines: list[str]) -> bool:
        """Take new lines; return True when progress was written (the pages should re-read)."""
        for line in lines:
            info = progress_from_line(line)
            if info is None:
                continue
            if self.batch and info.get("stage") == "saved":
                match = _VIDEO_INDEX.search(info.get("path", ""))
                if match:
                    self.saved.add(int(match.group(1)))
            self.current = info
            self._dirty = True
        if self._dirty and time.monotonic() - self._written_at >= WRITE_INTERVAL:
            self.write()
            return True
        return False

    def write(self) -> None:
        self._dirty = False
        self._written_at = time.monotonic()
        if not self.batch:
            Run.objects.filter(id__in=self.run_ids, status=RunStatus.RUNNING).update(progress=self.current)
            return
        batch = {"done": len(self.saved), "total": len(self.run_ids)}
        for index, run_id in enumerate(self.run_ids):
            if index in self.saved:
                value = {"stage": "saved", "label": "Saved", "percent": 100, "batch": batch}
            elif self.current.get("stage") == "saved":  # another video of the batch was saved
                value = {"stage": "waiting", "label": "Waiting for its turn in the batch", "batch": batch}
            else:
                value = {**self.current, "batch": batch}
            Run.objects.filter(id=run_id, status=RunStatus.RUNNING).update(progress=value)

    def close(self) -> None:
        if self._dirty:
            self.write()
