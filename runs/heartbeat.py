"""A job's heartbeat: a thread that proves, every few seconds, that a worker still owns the job.

It refreshes `Job.heartbeat_at` (and the runs' `heartbeat_at`) with an UPDATE conditional on
the job's lease. When that UPDATE changes nothing, another worker took the job over (reconcile
judged this one dead): `lost` is set and the owner stops touching the job. Being a thread, it
keeps beating while the owner blocks in an upload or a quiet log; a worker killed outright
stops beating, which is exactly what reconcile looks for.
"""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone

from runs.models import Job, Run

logger = logging.getLogger(__name__)


class Heartbeat:
    def __init__(self, job: Job, lease: str, *, on_beat=None):
        self.job = job
        self.lease = lease
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._on_beat = on_beat
        self._thread = threading.Thread(target=self._loop, name=f"heartbeat-{job.name}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def beat(self) -> bool:
        """Refresh the heartbeat now; False when the job is no longer ours."""
        now = timezone.now()
        owned = Job.objects.filter(pk=self.job.pk, lease=self.lease).update(heartbeat_at=now)
        if not owned:
            self.lost.set()
            return False
        Run.objects.filter(job_id=self.job.name).update(heartbeat_at=now)
        return True

    def _loop(self) -> None:
        interval = settings.COSMOS["HEARTBEAT_SECONDS"]
        try:
            while not self._stop.wait(interval):
                try:
                    if not self.beat():
                        return
                    if self._on_beat is not None:
                        self._on_beat()
                except Exception:  # a database hiccup must not kill the beat: the next one may work
                    logger.exception("heartbeat of job %s failed", self.job.name)
                    close_old_connections()
        finally:
            connection.close()
