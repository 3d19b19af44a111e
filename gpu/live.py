"""What each GPU host says about itself (its GPUs and Cosmos containers), asked in the background.

The hosts page, the dashboard and API clients ask for every host's status every few seconds.
Asked over SSH inside the request, a host that does not answer held a web request thread for its
10 s connect timeout, every poll; a web process has two such threads, so two open pages of one
dead host stalled the whole process. Here each host is asked by a thread of this module's own,
one question at a time per host however many requests want the answer, and an answer is reused
for FRESH_SECONDS. A request waits at most its `wait` for the answers it lacks, then shows the
last answer it has, with its time, or none yet ("still asking").

Answers are kept per process. Saving or deleting a host forgets its answer here (other processes
within FRESH_SECONDS); so does `forget`, for actions that change what a host would say (a kill).
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from dataclasses import asdict, dataclass, field
from datetime import datetime
from time import monotonic
from typing import Any

from django.utils import timezone

from gpu.errors import GPUError
from gpu.executor import executor_for
from gpu.models import GPUHost

logger = logging.getLogger(__name__)

# An answer younger than this is given again instead of asking the host again.
FRESH_SECONDS = 5.0
ASKING_AT_ONCE = 16


@dataclass(frozen=True)
class _Answer:
    gpus: list[dict[str, Any]] = field(default_factory=list)
    containers: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""
    at: datetime | None = None  # when the host answered (or could not be reached); None: not yet
    received: float = 0.0  # monotonic time of `at`


class _Answers:
    def __init__(self):
        self._lock = threading.Lock()
        self._answers: dict[int, _Answer] = {}
        self._asking: dict[int, Future] = {}
        # Bumped by `forget`: a question asked before it may be about the host as it was; its
        # answer is dropped.
        self._generations: dict[int, int] = {}
        self._pool = ThreadPoolExecutor(max_workers=ASKING_AT_ONCE, thread_name_prefix="host-status")

    def ask(self, hosts: list[GPUHost], *, wait: float | None) -> list[dict[str, Any]]:
        now = monotonic()
        with self._lock:
            for host in hosts:
                answer = self._answers.get(host.pk)
                if (answer is None or now - answer.received >= FRESH_SECONDS) and host.pk not in self._asking:
                    generation = self._generations.get(host.pk, 0)
                    self._asking[host.pk] = self._pool.submit(self._ask_one, host, generation)
            pending = [self._asking[host.pk] for host in hosts if host.pk in self._asking]
        wait_for(pending, timeout=wait)
        with self._lock:
            return [self._shown(host.pk) for host in hosts]

    def forget(self, host_pk: int | None = None) -> None:
        with self._lock:
            for pk in {*self._answers, *self._asking} if host_pk is None else {host_pk}:
                self._answers.pop(pk, None)
                self._asking.pop(pk, None)
                self._generations[pk] = self._generations.get(pk, 0) + 1

    def _shown(self, host_pk: int) -> dict[str, Any]:
        answer = self._answers.get(host_pk, _Answer())
        return {
            "gpus": answer.gpus,
            "containers": answer.containers,
            "error": answer.error,
            "checked_at": answer.at.isoformat() if answer.at else None,
            "checking": host_pk in self._asking,
        }

    def _ask_one(self, host: GPUHost, generation: int) -> None:
        try:
            gpus, containers, error = _ask_host(host)
        except Exception:  # a bug, not the host: say so instead of "still asking" for ever
            logger.exception("Asking host %s for its status failed", host.name)
            gpus, containers, error = [], [], "Asking the host failed unexpectedly; the server log has the details."
        answer = _Answer(gpus, containers, error, at=timezone.now(), received=monotonic())
        with self._lock:
            if self._generations.get(host.pk, 0) == generation:
                self._asking.pop(host.pk, None)
                self._answers[host.pk] = answer


def _ask_host(host: GPUHost) -> tuple[list, list, str]:
    """The host's GPUs and containers, or why it could not be asked. No database access: it runs
    in this module's threads."""
    try:
        with executor_for(host) as executor:
            return [asdict(gpu) for gpu in executor.gpu_info()], [asdict(info) for info in executor.containers()], ""
    except GPUError as error:
        return [], [], error.message


_answers = _Answers()


def hosts_say(hosts: list[GPUHost], *, wait: float | None) -> list[dict[str, Any]]:
    """Per host, in order: `gpus`, `containers`, `error` (why it could not be reached, else ""),
    `checked_at` (when it said so, ISO 8601; None when it has not answered yet) and `checking` (a
    question to it is under way). Waits up to `wait` seconds for answers not at hand (None: until
    they come)."""
    return _answers.ask(hosts, wait=wait)


def forget(host: GPUHost | None = None) -> None:
    """Ask `host` (every host, when None) afresh next time: what it would say has changed."""
    _answers.forget(None if host is None else host.pk)


def forget_saved_host(sender, instance: GPUHost, **kwargs) -> None:
    """post_save / post_delete of a host (connected in gpu.apps): its address or key may have changed."""
    forget(instance)
