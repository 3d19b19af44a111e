"""The web server as deployed: `python -m cosmosproject.serve` (several daphne processes on one
socket) running the pooled HTTP handler, against the test database, with real HTTP clients.

Many concurrent requests are all answered, by every process; the database connections stay
bounded by the thread pools whatever the number of requests (each request used to open its own,
and with CONN_MAX_AGE left them open: PostgreSQL ran out of connections); SIGTERM stops every
process; a port in use is a clear error.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
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
    while len(_children(process.pid)) < PROCESSES or not _answers(port):
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
    # 800 requests: the connections are those of the thread pools, not one per request.
    assert _database_connections(workers) <= PROCESSES * THREADS


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
