"""The web server on every core: `python -m cosmosproject.serve [--host H] [--port P] [--processes N]`.

One daphne process runs Python on one core. This binds the listening socket once and starts N
daphne processes that all accept connections from it (daphne's `fd:` endpoint), the way a
deployment runs several workers behind one port: N defaults to `COSMOS_WEB_PROCESSES`, else the
number of CPUs. The processes share the connections out evenly (cosmosproject.balanced_daphne:
the first to wake would otherwise take them all). Each process keeps no state a request needs
from another (sessions and data are in the database, run logs in files; with several processes,
use `REDIS_URL` for the channel layer to wake pages at once instead of them polling the log file).

SIGTERM or SIGINT stops every process (SIGKILL after a grace period); when one process ends by
itself, the others are stopped too and its exit code is returned, so a supervisor (runcosmos,
systemd) sees the failure instead of a server running on fewer cores. Needs no Django setup.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

from runs.children import stop_children

STOP_GRACE_SECONDS = 10
APPLICATION = "cosmosproject.asgi:application"
# The connection table's slot per process (cosmosproject.balanced_daphne): two signed 64-bit
# values, its open connections and when it last looked at the table (CLOCK_MONOTONIC, in ns).
SLOT_BYTES = 16


def listening_socket(host: str, port: int) -> socket.socket:
    # IPv4 only: twisted's `fd:` endpoint, which daphne uses, adopts AF_INET sockets unless given
    # a numeric family that its string syntax cannot carry.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def daphne_argv(sock: socket.socket, *, verbosity: int, table=None, slot: int = 0) -> list[str]:
    daphne = ["--fd", str(sock.fileno()), "-v", str(verbosity), APPLICATION]
    if table is None:
        return [sys.executable, "-m", "daphne", *daphne]
    balancing = ["--table-fd", str(table.fileno()), "--slot", str(slot)]
    return [sys.executable, "-m", "cosmosproject.balanced_daphne", *balancing, "--", *daphne]


def connection_table(processes: int):
    """The table in which the processes count their connections: an unnamed file, gone with them."""
    table = tempfile.TemporaryFile()
    table.truncate(processes * SLOT_BYTES)
    os.set_inheritable(table.fileno(), True)
    return table


def _child_setup() -> None:
    """In the child before exec: SIGTERM when this process dies, so no worker outlives it."""
    if sys.platform == "linux":
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def serve(host: str, port: int, processes: int, *, verbosity: int = 1) -> int:
    try:
        sock = listening_socket(host, port)
    except (OSError, socket.gaierror) as error:
        print(f"Cannot listen on {host}:{port}: {error.strerror} (an IPv4 address is needed).", file=sys.stderr)
        return 1
    stopping: list[int] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda num, frame: stopping.append(num))
    table = connection_table(processes) if processes > 1 else None
    shared = (sock.fileno(), table.fileno()) if table else (sock.fileno(),)
    children = [
        subprocess.Popen(daphne_argv(sock, verbosity=verbosity, table=table, slot=slot), pass_fds=shared, preexec_fn=_child_setup)
        for slot in range(processes)
    ]
    sock.close()  # the children hold it, and the table
    if table:
        table.close()
    code = 0
    try:
        while not stopping:
            ended = [child for child in children if child.poll() is not None]
            if ended:
                code = ended[0].returncode or 1
                print(f"A web server process ended (exit code {ended[0].returncode}); stopping.", file=sys.stderr)
                break
            time.sleep(0.2)
    finally:
        stop_children(children, grace=STOP_GRACE_SECONDS)
    return code


def default_processes() -> int:
    return int(os.environ.get("COSMOS_WEB_PROCESSES") or 0) or os.cpu_count() or 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
    parser.add_argument("--processes", type=int, default=default_processes(), help="default: COSMOS_WEB_PROCESSES or CPUs")
    parser.add_argument("-v", "--verbosity", type=int, default=1, help="daphne's: 0 leaves out the access log")
    args = parser.parse_args(argv)
    if args.processes < 1:
        parser.error("--processes must be 1 or more")
    return serve(args.host, args.port, args.processes, verbosity=args.verbosity)


if __name__ == "__main__":
    sys.exit(main())
