"""Wake websocket consumers when their log file changes: one `os.stat` per followed file every
`interval`, shared by all the consumers of an event loop.

Why: in the default setup the worker writes a run's log in another process, and the in-memory
channel layer cannot carry its wake-up across. Looking at the file is then the wake-up. A stat
costs microseconds where a read costs a thread hop and a file open, and one look serves every
page that follows the same file: a page whose log is idle costs one stat per interval, a
hundred of them well under a hundredth of a core at 10 ms.

    unwatch = watch(path, event, interval=0.01)   # event.set() whenever the file changes
    ...
    unwatch()
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

_Key = tuple[int, int, int] | None  # (inode, size, mtime in ns); None while the file is missing
_watchers: dict[tuple[asyncio.AbstractEventLoop, float], _Watcher] = {}


def _look(path: str) -> _Key:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


class _Watcher:
    """The files followed on one event loop at one interval; its task ends when none is left."""

    def __init__(self, loop: asyncio.AbstractEventLoop, interval: float):
        self.key = (loop, interval)
        self.interval = interval
        self.files: dict[str, tuple[_Key, set[asyncio.Event]]] = {}
        self.task = loop.create_task(self._run(), name=f"log-file-watch-{interval:g}")

    def add(self, path: str, event: asyncio.Event) -> None:
        seen, events = self.files.get(path, (None, set()))
        if not events:
            seen = _look(path)  # changes from now on wake the event
        events.add(event)
        self.files[path] = (seen, events)

    def discard(self, path: str, event: asyncio.Event) -> None:
        seen, events = self.files.get(path, (None, set()))
        events.discard(event)
        if not events:
            self.files.pop(path, None)

    async def _run(self) -> None:
        try:
            while self.files:
                await asyncio.sleep(self.interval)
                for path, (seen, events) in list(self.files.items()):
                    now = _look(path)
                    if now != seen:
                        self.files[path] = (now, events)
                        for event in events:
                            event.set()
        finally:
            if _watchers.get(self.key) is self:
                del _watchers[self.key]


def watch(path: str | os.PathLike, event: asyncio.Event, *, interval: float) -> Callable[[], None]:
    """Set `event` whenever the file at `path` changes (appears, grows, is cut or replaced),
    looking every `interval` seconds; call the returned function to stop. Needs a running loop."""
    loop = asyncio.get_running_loop()
    key = str(Path(path))
    watcher = _watchers.get((loop, interval))
    if watcher is None or watcher.task.done():
        watcher = _watchers[(loop, interval)] = _Watcher(loop, interval)
    watcher.add(key, event)

    def unwatch() -> None:
        watcher.discard(key, event)

    return unwatch
