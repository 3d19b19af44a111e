"""One of several daphne processes on one listening socket, taking its fair share of connections.

    python -m cosmosproject.balanced_daphne --table-fd FD --slot I -- DAPHNE_ARGUMENTS...

Processes that share a socket race for each new connection, and the first to wake takes a whole
burst (twisted accepts up to 100 connections per wake-up). Measured here: 50 clients connecting
at once left 49 connections on one process and 1 on the other, so 49 clients queued on one core
while the other core idled (p95 ~400 ms instead of ~200), and keep-alive connections stay where
they land. So each process publishes how many connections it holds in a table shared by all (a
file mapped into memory, one slot per process, written only by its owner), accepts one
connection per wake-up, and accepts only while it holds no more than the least loaded of the
others: a load balancer's least-connections rule, without a balancer in front.
A process that stops looking at the table (stopped, or its event loop stuck) is left out of the
comparison after STALE_SECONDS: holding the fewest connections, it would otherwise keep the
others from accepting while it accepts nothing itself.
cosmosproject.serve creates the table and starts the processes.
"""

from __future__ import annotations

import argparse
import mmap
import os
import sys
import time
from functools import partial

# daphne.server installs twisted's asyncio reactor when imported: it comes before any twisted import.
from daphne.cli import CommandLineInterface
from daphne.server import Server
from twisted.internet import tcp
from twisted.internet.task import LoopingCall

from cosmosproject.serve import SLOT_BYTES

# Other processes' counts change without telling this one; this is how soon it notices.
RECHECK_SECONDS = 0.01
# A process that has not looked at the table for this long is not taking connections. Far above
# anything that delays a live event loop here (a full GC pass: 33 ms at most, asgi.py).
STALE_SECONDS = 1.0


class ConnectionTable:
    """Per process, shared through a mapped file: its open connections and when it last looked
    at the table (monotonic nanoseconds), as signed 64-bit values. Only a slot's process writes it."""

    def __init__(self, fd: int, slot: int):
        slots = os.fstat(fd).st_size // SLOT_BYTES
        if not 0 <= slot < slots:
            raise ValueError(f"slot {slot} is outside the table's {slots} slots")
        values = memoryview(mmap.mmap(fd, slots * SLOT_BYTES)).cast("q")
        self._counts, self._seen = values[0::2], values[1::2]
        self.slot = slot

    def add(self, delta: int) -> None:
        self._counts[self.slot] += delta

    def is_least_loaded(self) -> bool:
        """True when no live process holds fewer connections than this one; says this one is live."""
        now = time.monotonic_ns()
        self._seen[self.slot] = now
        live_since = now - int(STALE_SECONDS * 1e9)
        mine = self._counts[self.slot]
        return all(
            mine <= count
            for index, (count, seen) in enumerate(zip(self._counts, self._seen))
            if index != self.slot and seen >= live_since
        )


class CountedConnection(tcp.Server):
    """A connection's transport that keeps its port's count, whatever protocol it ends up with
    (an HTTP connection upgraded to a websocket keeps this transport)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.server.table.add(1)

    def connectionLost(self, reason):
        try:
            super().connectionLost(reason)
        finally:
            self.server.table.add(-1)
            self.server.update()


class BalancedPort(tcp.Port):
    transport = CountedConnection
    table: ConnectionTable

    def doRead(self):
        # One connection per wake-up: the other processes, woken by the same burst, take theirs.
        self.numberAccepts = 1
        super().doRead()
        self.update()

    def update(self) -> None:
        """Listen while this process holds no more connections than any other, else pause."""
        if self.disconnecting:
            return
        if self.table.is_least_loaded():
            self.startReading()
        else:
            self.stopReading()


class BalancedServer(Server):
    def __init__(self, *args, table: ConnectionTable, **kwargs):
        super().__init__(*args, **kwargs)
        self.table = table

    def listen_success(self, port):
        super().listen_success(port)
        # daphne builds its ports from endpoint strings; this is the one place to reach them. It
        # runs before the reactor does, so no connection has been accepted uncounted.
        if type(port) is tcp.Port:
            port.__class__ = BalancedPort
            port.table = self.table
            LoopingCall(port.update).start(RECHECK_SECONDS)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table-fd", type=int, required=True, help="the shared table's file descriptor")
    parser.add_argument("--slot", type=int, required=True, help="this process's slot in the table")
    parser.add_argument("daphne_arguments", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    daphne_arguments = args.daphne_arguments[1:] if args.daphne_arguments[:1] == ["--"] else args.daphne_arguments

    class BalancedCommandLine(CommandLineInterface):
        server_class = partial(BalancedServer, table=ConnectionTable(args.table_fd, args.slot))

    BalancedCommandLine().run(daphne_arguments)


if __name__ == "__main__":
    main(sys.argv[1:])
