"""The websocket of one run (`/ws/runs/<run id>/`): its log as it is written, its status and progress.

A `LogTailConsumer` (logs app) that knows runs: the owner and staff may watch (anyone else is
refused as if the run did not exist), the lines come from the run's execution.log, and the
state beside them is the run's status, progress and error, re-read whenever the worker
announces a change.
"""

from __future__ import annotations

from pathlib import Path

from channels.db import database_sync_to_async

from logs.consumers import LogTailConsumer
from prompts.errors import NotFound
from runs.joblog import run_group
from runs.models import Run
from runs.outputs import run_log_path
from runs.selectors import run_get


class RunLogConsumer(LogTailConsumer):
    run: Run | None = None

    @property
    def run_id(self) -> str:
        return self.scope["url_route"]["kwargs"]["run_id"]

    async def authorize(self) -> bool:
        try:
            self.run = await database_sync_to_async(run_get)(user=self.scope["user"], run_id=self.run_id)
        except NotFound:
            return False
        return True

    async def log_path(self) -> Path:
        return run_log_path(self.run)

    async def log_group(self) -> str | None:
        return run_group(self.run.id)

    async def extra_state(self) -> dict:
        return await database_sync_to_async(self._state)()

    def _state(self) -> dict:
        run = Run.objects.only("status", "progress", "error", "failure_reason", "outputs").get(pk=self.run.pk)
        return {
            "status": run.status,
            "progress": run.progress,
            "error": run.error,
            "failure_reason": run.failure_reason,
            "finished": not run.is_active,
        }
