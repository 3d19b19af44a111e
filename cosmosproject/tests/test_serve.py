"""The web server as deployed: `python -m cosmosproject.serve` (several daphne processes on one
socket) running the pooled HTTP handler, against the test database, with real HTTP clients.

Many concurrent requests are all answered, by every process; a burst of connections is shared
out evenly, and new connections go to the process holding the fewest; the database connections stay
bounded by the thread pools whatever the number of requests (each request used to open its own,
and with CONN_MAX_AGE left them open: PostgreSQL ran out of connections); SIGTERM stops every
process; a port in use is a clear error.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from accounts.tokens import token_create
from cosmosproject.testing import database_url, free_port

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
PROCESSES, THREADS = 2, 3


def _start(port: int, log: Path, processes: int = PROCESSES) -> subprocess.Popen:
    env = dict(
        os.environ, COSMOS_DATA_DIR=str(settings.DATA_DIR), DATABASE_URL=database_url(), LOG_LEVEL="WARNING",
        COSMOS_WEB_THREADS=str(THREADS), COSMOS_SMART_NAMES="0",
    )
    argv = [sys.executable, "-m", "cosmosproject.serve", "--port", str(port), "--processes", str(processes), "-v", "0"]
    return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


@pytest.fixture
def server(tmp_path):
    port = free_port()
    log = tmp_path / "serve.log"
    process = _start(port, log)
    deadline = time.monotonic() + 60
    while len(_children(process.pid)) < PROCESSES or not _answers(port) or not _all_balancing(_children(process.pid)):
        assert process.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)
    yield process, port
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def _answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def _get(port: int, path: str, token: str, count: int) -> list[int]:
    """`count` keep-alive GETs on one connection; their statuses."""
    client = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    statuses = []
    for _ in range(count):
        client.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        response = client.getresponse()
        body = response.read()
        statuses.append(response.status)
        if path == "/api/me":
            assert json.loads(body)["username"] == "alice"
    client.close()
    return statuses


def _database_connections(pids: list[int]) -> int:
    """Open connections to the test database: sessions on PostgreSQL, the database file's
    descriptors held by the server processes on SQLite."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            return cursor.fetchone()[0]
    database = os.path.realpath(settings.DATABASES["default"]["NAME"])
    held = 0
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                held += os.path.realpath(fd) == database
            except OSError:
                pass  # closed meanwhile
    return held


def test_many_clients_are_answered_by_every_process_over_bounded_connections(server, alice):
    process, port = server
    _, token = token_create(user=alice, name="load")
    workers = _children(process.pid)
    assert len(workers) == PROCESSES

    def cpu(pid: int) -> int:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])

    before = {pid: cpu(pid) for pid in workers}
    with ThreadPoolExecutor(16) as pool:
        paths = ["/api/me", "/api/runs?status=completed", "/api/prompts", "/api/prompts?q=neon"]
        results = list(pool.map(lambda i: _get(port, paths[i % len(paths)], token, 25), range(32)))
    assert [status for statuses in results for status in statuses] == [200] * 32 * 25
    assert all(cpu(pid) > before[pid] for pid in workers), "a process served nothing"
    # 800 requests: the connections are those of the thread pools (and at most one more per
    # process, its main thread's from start-up), not one per request (the stock handler: 91).
    assert _database_connections(workers) <= PROCESSES * (THREADS + 1)


def _files_open(workers: list[int], path: Path) -> int:
    opened = 0
    for pid in workers:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):  # closed meanwhile
                opened += os.readlink(fd) == str(path)
    return opened


def test_a_streamed_file_is_sent_whole_and_closed_once_sent(server):
    """A streaming response (a static file) is the one whose close comes after its last chunk."""
    process, port = server
    workers = _children(process.pid)
    path = ROOT / "static" / "js" / "compare.js"
    client = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    client.request("GET", "/static/js/compare.js")
    whole = client.getresponse()
    assert (whole.status, whole.read()) == (200, path.read_bytes())
    client.request("GET", "/static/js/compare.js", headers={"Range": "bytes=10-19"})
    part = client.getresponse()
    assert (part.status, part.read()) == (206, path.read_bytes()[10:20])
    client.close()
    deadline = time.monotonic() + 10
    while _files_open(workers, path):
        assert time.monotonic() < deadline, "the file stayed open after it was sent"
        time.sleep(0.05)


def _server_side_holders(port: int, workers: list[int]) -> dict[int, int]:
    """For each established connection to `port`: the client's port -> the worker holding it."""
    inodes = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
        if int(local.split(":")[1], 16) == port and state == "01":  # 01: ESTABLISHED
            inodes[f"socket:[{inode}]"] = int(remote.split(":")[1], 16)
    holders = {}
    for pid in workers:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue  # closed meanwhile
            if target in inodes:
                holders[inodes[target]] = pid
    return holders


def _connect(port: int, count: int) -> list[socket.socket]:
    """`count` connections opened at once, each answered once (so each has been accepted)."""
    clients = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(count)]
    for client in clients:
        client.sendall(b"GET /api/me HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    for client in clients:
        assert client.recv(65536).startswith(b"HTTP/1.1 401")
    return clients


def _count_by_worker(port: int, workers: list[int], clients: list[socket.socket]) -> dict[int, int]:
    holders = _server_side_holders(port, workers)
    mine = [holders.get(client.getsockname()[1]) for client in clients]
    assert None not in mine, "a connection is held by no worker"
    return {pid: mine.count(pid) for pid in workers}


def test_connections_are_shared_out_evenly_and_new_ones_go_to_the_least_loaded(server):
    process, port = server
    workers = _children(process.pid)
    # Without balancing, the first process to wake took such a burst whole (49 of 50 seen).
    clients = _connect(port, 40)
    assert sorted(_count_by_worker(port, workers, clients).values()) == [20, 20]

    holders = _server_side_holders(port, workers)
    first = [client for client in clients if holders[client.getsockname()[1]] == workers[0]]
    for client in first[:12]:
        client.close()
    clients = [client for client in clients if client not in first[:12]]
    deadline = time.monotonic() + 10
    while _count_by_worker(port, workers, clients)[workers[0]] != 8:  # the server has seen the closes
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.2)  # the other process looks at the table every 10 ms: let it see it is not the least loaded
    clients += _connect(port, 12)
    assert _count_by_worker(port, workers, clients) == {workers[0]: 20, workers[1]: 20}
    for client in clients:
        client.close()


def _slots(workers: list[int]) -> list[tuple[int, int]]:
    """The table the workers share, read through a worker's descriptor of it: per worker, its
    open connections and when it last looked at the table (monotonic ns)."""
    argv = Path(f"/proc/{workers[0]}/cmdline").read_bytes().split(b"\0")
    fd = int(argv[argv.index(b"--table-fd") + 1])
    data = Path(f"/proc/{workers[0]}/fd/{fd}").read_bytes()
    values = struct.unpack(f"{len(data) // 8}q", data)
    return list(zip(values[0::2], values[1::2]))


def _table(workers: list[int]) -> list[int]:
    return [count for count, _seen in _slots(workers)]


def _all_balancing(workers: list[int]) -> bool:
    """Every worker has started and looks at the table (a worker still starting is left out of
    the balance, and the first one up would take a burst of connections alone)."""
    try:
        slots = _slots(workers)
    except (OSError, ValueError):  # a worker not yet running balanced_daphne
        return False
    return len(workers) == PROCESSES and all(time.monotonic_ns() - seen < 0.5e9 for _, seen in slots)


def test_a_stopped_process_does_not_keep_the_others_from_taking_connections(server):
    process, port = server
    stopped, running = _children(process.pid)
    os.kill(stopped, signal.SIGSTOP)  # holds the fewest connections (none) and accepts nothing
    try:
        # Taken by the running process once the stopped one is STALE_SECONDS silent. Before, the
        # running one paused at one connection more than the stopped one, and every later client
        # waited in the backlog for good.
        clients = _connect(port, 8)
        assert _count_by_worker(port, [stopped, running], clients) == {stopped: 0, running: 8}
    finally:
        os.kill(stopped, signal.SIGCONT)
    for client in clients:
        client.close()


def test_a_websocket_is_upgraded_through_the_balanced_port_and_uncounted_when_closed(server):
    process, port = server
    workers = _children(process.pid)
    clients = _connect(port, 6)
    assert _table(workers) == [3, 3]
    key = base64.b64encode(os.urandom(16)).decode()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as websocket:
        websocket.sendall(
            f"GET /ws/runs/rs_unknown/ HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: http://127.0.0.1\r\n\r\n".encode()
        )
        reply = b""
        while b"\r\n\r\n" not in reply:
            reply += websocket.recv(4096)
        assert reply.startswith(b"HTTP/1.1 101")
        assert sum(_table(workers)) == 7
        # Anonymous: the consumer accepts, then closes with its code; the server ends the socket
        # (with a reset, since this client never answers the close frame).
        with contextlib.suppress(ConnectionResetError):
            while websocket.recv(4096):
                pass
    deadline = time.monotonic() + 10
    while _table(workers) != [3, 3]:
        assert time.monotonic() < deadline, _table(workers)
        time.sleep(0.05)
    for client in clients:
        client.close()


def test_sigterm_stops_every_process(server):
    process, _ = server
    workers = _children(process.pid)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    time.sleep(0.5)
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()]


def test_a_port_in_use_is_a_clear_error(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        log = tmp_path / "serve.log"
        process = _start(port, log, processes=1)
        assert process.wait(timeout=30) == 1
    assert f"Cannot listen on 127.0.0.1:{port}" in log.read_text()
