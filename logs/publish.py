"""Tell websocket consumers that a log grew: channel-group names and batched notifications.

The log file is the only copy of a line. A notification carries no lines, only "this log now
ends at offset N" and, when the writer says so, "the state changed" (a run's status or
progress): consumers read the lines from the file themselves. So a notification that never
arrives (InMemory layer across processes, a full group, Redis down) costs latency, since the
consumer's poll of the file finds the lines anyway, never a line.

From sync code (a task-queue worker), a shared layer (channels-redis) is called on one
long-lived event loop (logs.layer_loop), so the process keeps one Redis connection; the
in-memory layer, which only reaches consumers of this process, through `async_to_sync`, which
runs it on the server's own loop when called from a view. `LogPublisher` sends at most one
notification per `min_interval` from `write`; `flush()` sends the one held back.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from collections.abc import Iterable

from asgiref.sync import async_to_sync
from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer, get_channel_layer
from redis.exceptions import RedisError

from logs import layer_loop
from logs.files import LogFile

logger = logging.getLogger(__name__)

NOTIFY_TYPE = "log.notify"  # handled by LogTailConsumer.log_notify
MIN_NOTIFY_INTERVAL = 0.05
SEND_TIMEOUT = 5.0  # a layer that hangs (Redis stuck) must not stall the writer for long; a first send on a loaded machine (connect included) took over 2 s
_GROUP_CHARS = re.compile(r"[^A-Za-z0-9_.-]")
_GROUP_MAX = 99  # channels refuses names of 100 characters or more
# What a channel layer raises when it cannot deliver (Redis down or slow, a full group). The file
# has the lines, so these cost only latency: they are logged, not raised.
_DELIVERY_ERRORS = (OSError, TimeoutError, ChannelFull, RedisError)


def group_name(key: str) -> str:
    """A valid channel-group name for `key` (e.g. `run-rs_abc123`, returned as it is). Keys with
    other characters, or too long, are cleaned and get a hash suffix so two never collide."""
    if key and len(key) <= _GROUP_MAX and not _GROUP_CHARS.search(key):
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return f"{_GROUP_CHARS.sub('_', key)[: _GROUP_MAX - 17]}.{digest}"


def _message(payload: dict | None) -> dict:
    return {**(payload or {}), "type": NOTIFY_TYPE}


def notify(group: str, payload: dict | None = None) -> bool:
    """One group_send from sync code. False (and a warning) when the channel layer failed."""
    layer = get_channel_layer()
    if layer is None:
        return False
    try:
        if isinstance(layer, InMemoryChannelLayer):
            # Its queues belong to the loop of this process's consumers: async_to_sync finds it.
            async_to_sync(layer.group_send)(group, _message(payload))
        else:
            layer_loop.call(layer.group_send, group, _message(payload), timeout=SEND_TIMEOUT)
    except _DELIVERY_ERRORS as error:
        logger.warning("Could not notify %s through the channel layer: %s", group, error)
        return False
    return True


async def anotify(group: str, payload: dict | None = None) -> bool:
    """`notify` for async code."""
    layer = get_channel_layer()
    if layer is None:
        return False
    try:
        await layer.group_send(group, _message(payload))
    except _DELIVERY_ERRORS as error:
        logger.warning("Could not notify %s through the channel layer: %s", group, error)
        return False
    return True


class LogPublisher:
    """Writes batches of lines to a log file, then wakes the group's consumers (throttled).

    One publisher per log, used from one thread (a worker following a container)."""

    def __init__(self, log_file: LogFile | str | os.PathLike, group: str, *, min_interval: float = MIN_NOTIFY_INTERVAL):
        self.log_file = log_file if isinstance(log_file, LogFile) else LogFile(log_file)
        self.group = group
        self.min_interval = min_interval
        self._last_sent = float("-inf")
        self._unsent_end: int | None = None

    def write(self, lines: Iterable[str]) -> int:
        """Append the batch to the file (first: it is the truth), then notify. Returns the new end."""
        end = self.log_file.append(lines)
        self._unsent_end = end
        if time.monotonic() - self._last_sent >= self.min_interval:
            self.flush()
        return end

    def flush(self) -> None:
        """Send the notification held back by the throttle, if any (call when the stream ends)."""
        if self._unsent_end is not None:
            self._send({"end": self._unsent_end})

    def state_changed(self) -> None:
        """Wake consumers to re-read the state (status, progress) now, with any unsent end."""
        payload = {"state": True}
        if self._unsent_end is not None:
            payload["end"] = self._unsent_end
        self._send(payload)

    def _send(self, payload: dict) -> None:
        self._unsent_end = None
        self._last_sent = time.monotonic()
        notify(self.group, payload)
