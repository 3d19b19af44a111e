"""gpu/remote/follow_log.py on its own, with a stand-in `docker` whose answer the test controls:
a slow container check never holds up a busy log, and a stopped container ends the follow
once everything it wrote has been sent."""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
import time
from pathlib import Path

import pytest

FOLLOW_LOG = Path(__file__).resolve().parents[1] / "remote" / "follow_log.py"
GIVE_UP = 15  # seconds: a failing test, not a hang

# `docker inspect ...` that says it started, then answers only once the test writes the answer.
SLOW_DOCKER = """#!/bin/sh
touch "$(dirname "$0")/inspect-started"
while [ ! -f "$(dirname "$0")/answer" ]; do sleep 0.01; done
cat "$(dirname "$0")/answer"
"""


@pytest.fixture
def job(tmp_path):
    job_dir = tmp_path / "job"
    job_dir.mkdir()
    docker = tmp_path / "docker"
    docker.write_text(SLOW_DOCKER)
    docker.chmod(0o755)
    process = subprocess.Popen(
        [sys.executable, str(FOLLOW_LOG), str(job_dir), "0", "cosmos-job", str(docker)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )
    yield job_dir, tmp_path, process
    if process.poll() is None:
        process.kill()
    process.wait()


def write(job_dir: Path, text: str) -> None:
    with open(job_dir / "job.log", "a") as log:
        log.write(text)


def read_until(process: subprocess.Popen, expected: bytes) -> bytes:
    """What the follower sent until `expected` is in it (empty when it never came)."""
    received = b""
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + GIVE_UP
        while expected not in received and time.monotonic() < deadline:
            if selector.select(timeout=0.1):
                chunk = os.read(process.stdout.fileno(), 65536)
                if not chunk:
                    break
                received += chunk
    return received if expected in received else b""


def wait_for(path: Path) -> None:
    deadline = time.monotonic() + GIVE_UP
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.01)


def test_lines_keep_flowing_while_the_container_check_is_slow(job):
    job_dir, folder, process = job
    write(job_dir, "first\n")
    assert read_until(process, b"first\n")
    wait_for(folder / "inspect-started")  # the check is running now, and will not answer yet
    write(job_dir, "second\n")
    assert read_until(process, b"second\n"), "the log waited for docker inspect"
    (folder / "answer").write_text("true\n")
    assert process.poll() is None  # still running: keeps following


def test_a_stopped_container_ends_the_follow_after_its_last_lines(job):
    job_dir, folder, process = job
    write(job_dir, "only line\n")
    wait_for(folder / "inspect-started")
    write(job_dir, "last words\n")
    (folder / "answer").write_text("false\n")
    # Read to the end with stdin still open (its end-of-file would tell the follower to stop).
    assert read_until(process, b"only line\nlast words\n") == b"only line\nlast words\n"
    assert process.wait(timeout=GIVE_UP) == 0
