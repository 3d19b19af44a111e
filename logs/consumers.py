"""`LogTailConsumer`: a websocket that sends a log file from an offset, then each line as it is written.

Generic: it knows a log file and a channel group, not runs. A higher app subclasses it and says
who may watch and what:

    class RunLogConsumer(LogTailConsumer):
        async def authorize(self) -> bool: ...        # may scope["user"] see this run?
        async def log_path(self) -> Path: ...         # the run's execution.log
        async def log_group(self) -> str | None: ...  # group_name(f"run-{run_id}")
        async def extra_state(self) -> dict: ...      # {"status": ..., "progress": ...}

Protocol. The client connects with `?offset=N` (resume after the last `end` it saw; default 0)
or `?tail=N` (start with the last N lines). Server messages (JSON):

- `{"type": "lines", "start": S, "end": E, "lines": [...], "levels": [...]}`: the whole lines
  between byte offsets S and E; a reconnect with `?offset=E` misses and repeats nothing;
- `{"type": "synced", "end": E}`: once, when the backlog has been sent and the socket is live;
- `{"type": "state", "state": {...}}`: `extra_state()` on connect and whenever it changes;
- `{"type": "error", "message": "..."}` before a close with code 4400 (bad offset/tail).

Close codes: 4401 not logged in, 4403 not allowed (accepted, then closed, so the browser sees the
code and does not retry), 4400 bad request, 1011 server error.

New lines are found two ways: a `log.notify` message to the group wakes the consumer at once
(works across processes with channels-redis), and the process's file watcher (logs.file_watch)
wakes it within `watch_interval` of the file changing, so the default setup (worker and web in
separate processes, the in-memory layer) delivers within ~10 ms too. A read every
`poll_interval` is the last resort. Either way the lines are read from the file, the source of
truth.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from urllib.parse import parse_qs

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from logs import file_watch
from logs.errors import LogQueryError
from logs.files import READ_BYTES, LogFile
from logs.parsing import LineParser

logger = logging.getLogger(__name__)

CLOSE_BAD_REQUEST = 4400
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_SERVER_ERROR = 1011


class LogTailConsumer(AsyncJsonWebsocketConsumer):
    watch_interval: float | None = 0.01  # seconds between stats of the file (None: no watching)
    poll_interval = 1.0  # seconds between reads of the file when nothing woke the consumer
    state_interval = 1.0  # seconds between calls of extra_state() when no notification came
    batch_bytes = READ_BYTES  # most bytes of lines per "lines" message...
    batch_lines = 500  # ...and most lines (the live panel keeps or drops whole batches)
    max_tail = 10_000

    _follower: asyncio.Task | None = None
    _unwatch = None
    _group: str | None = None
    _sent_state: dict | None = None
    _next_state_at = 0.0

    # ---- what a subclass provides -------------------------------------------------------
    async def authorize(self) -> bool:
        """May `self.scope["user"]` (already known to be logged in) watch this log?"""
        raise NotImplementedError

    async def log_path(self) -> Path:
        raise NotImplementedError

    async def log_group(self) -> str | None:
        """The channel group whose `log.notify` messages wake this consumer (None: poll only)."""
        return None

    async def extra_state(self) -> dict:
        """State sent beside the lines (a run's status and progress); {} sends none."""
        return {}

    # ---- connection -----------------------------------------------------------------------
    async def connect(self) -> None:
        self._wake = asyncio.Event()
        self._state_due = True
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            return await self._refuse(CLOSE_UNAUTHENTICATED)
        if not await self.authorize():
            return await self._refuse(CLOSE_FORBIDDEN)
        self.log = LogFile(await self.log_path())
        try:
            offset, tail = self._requested_start()
            if offset > await asyncio.to_thread(self.log.size):
                raise LogQueryError(f"Offset {offset} is past the end of this log; reconnect with offset=0.")
        except LogQueryError as error:
            await self.accept()
            await self.send_json({"type": "error", "message": error.message})
            return await self.close(code=CLOSE_BAD_REQUEST)
        self._group = await self.log_group()
        if self._group and self.channel_layer is not None:
            await self.channel_layer.group_add(self._group, self.channel_name)
        await self.accept()
        if self.watch_interval:
            self._unwatch = file_watch.watch(self.log.path, self._wake, interval=self.watch_interval)
        self._follower = asyncio.create_task(self._follow(offset, tail))
        self._follower.add_done_callback(self._follower_done)

    async def disconnect(self, code: int) -> None:
        if self._follower is not None:
            self._follower.cancel()
        if self._unwatch is not None:
            self._unwatch()
        if self._group and self.channel_layer is not None:
            await self.channel_layer.group_discard(self._group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None) -> None:
        """Clients have nothing to say on this socket; whatever they send is ignored."""

    async def log_notify(self, event: dict) -> None:
        """A writer appended lines (or changed the state): look now instead of at the next poll."""
        if event.get("state"):
            self._state_due = True
        self._wake.set()

    async def _refuse(self, code: int) -> None:
        # Accept, then close: a close before the handshake reaches a browser as a bare HTTP 403
        # and the code, which tells the page not to reconnect, would be lost.
        await self.accept()
        await self.close(code=code)

    def _requested_start(self) -> tuple[int, int | None]:
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        offset = _whole_number(query, "offset", default=0)
        tail = _whole_number(query, "tail", default=None)
        if tail is not None and "offset" in query:
            raise LogQueryError("Give either offset or tail, not both.")
        if tail is not None and not 1 <= tail <= self.max_tail:
            raise LogQueryError(f"tail must be between 1 and {self.max_tail}.")
        return offset, tail

    # ---- following the file -------------------------------------------------------------
    async def _follow(self, offset: int, tail: int | None) -> None:
        parser = LineParser()  # for the levels sent beside the lines (colour in the panel)
        if tail is not None:
            end = await asyncio.to_thread(self.log.end)
            lines, offset = await asyncio.to_thread(self.log.read_before, end, tail)
            await self._send_lines(parser, lines, offset, end)
            offset = end
        synced = False
        while True:
            self._wake.clear()  # before reading: a notification during the read is not lost
            await self._send_state_if_due()
            lines, end = await asyncio.to_thread(self.log.read_from, offset, self.batch_bytes, max_lines=self.batch_lines)
            if lines:
                await self._send_lines(parser, lines, offset, end)
                offset = end
                continue  # drain what is there before waiting
            if not synced:
                synced = True
                await self.send_json({"type": "synced", "end": offset})
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_interval)
            except TimeoutError:
                pass

    async def _send_state_if_due(self) -> None:
        now = asyncio.get_running_loop().time()
        if not self._state_due and now < self._next_state_at:
            return
        self._state_due = False
        self._next_state_at = now + self.state_interval
        state = await self.extra_state()
        if state and state != self._sent_state:
            self._sent_state = state
            await self.send_json({"type": "state", "state": state})

    async def _send_lines(self, parser: LineParser, lines: list[str], start: int, end: int) -> None:
        levels = [parser.parse(line).level for line in lines]
        await self.send_json({"type": "lines", "start": start, "end": end, "lines": lines, "levels": levels})

    def _follower_done(self, task: asyncio.Task) -> None:
        if task.cancelled() or task.exception() is None:
            return
        logger.error("Log follower for %s failed", getattr(self, "log", None), exc_info=task.exception())
        asyncio.ensure_future(self.close(code=CLOSE_SERVER_ERROR))


def _whole_number(query: dict[str, list[str]], name: str, *, default: int | None) -> int | None:
    values = query.get(name)
    if not values:
        return default
    try:
        number = int(values[-1])
    except ValueError:
        number = -1
    if number < 0:
        raise LogQueryError(f"{name} must be a whole number, 0 or more (got {values[-1]!r}).")
    return number
