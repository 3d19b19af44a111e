#!/usr/bin/env python3
"""Follow a job's log from a byte offset until the job has ended and the log is drained.

Runs on the GPU host (not in the container), with the host's python3 (3.6+, stdlib only).
usage: follow_log.py JOB_DIR OFFSET CONTAINER DOCKER_COMMAND...

Writes the raw bytes of JOB_DIR/job.log from OFFSET to stdout as they are appended. The job
has ended when JOB_DIR/exit_code exists or the container is not running (killed, removed, or
never started); the log is then read to its end and the program exits 0. It exits as well
when its stdin reaches end-of-file (the reader went away), and writes a heartbeat (a NUL
byte) to stderr every few seconds so that a reader can tell a silent job from a dead connection.
"""

import os
import select
import subprocess
import sys
import time

POLL = 0.02  # seconds between looks at an idle log
CONTAINER_CHECK = 1.0  # seconds between `docker inspect` calls while idle
HEARTBEAT = 5.0


def container_running(docker, name):
    try:
        result = subprocess.run(docker + ["inspect", "--format", "{{.State.Running}}", name],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return True  # cannot tell: keep following, the marker or the next check will decide
    return result.returncode == 0 and result.stdout.strip() == b"true"


def main():
    job_dir, offset, container = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    docker = sys.argv[4:]
    if not os.path.isdir(job_dir):
        sys.stderr.write("no such job folder: {}\n".format(job_dir))
        return 3
    log_path = os.path.join(job_dir, "job.log")
    marker = os.path.join(job_dir, "exit_code")
    out = sys.stdout.buffer
    log = None
    next_check = 0.0
    next_beat = time.monotonic() + HEARTBEAT
    while True:
        if log is None and os.path.exists(log_path):
            log = open(log_path, "rb")
            log.seek(offset)
        data = log.read(1 << 20) if log else b""
        if data:
            out.write(data)
            out.flush()
            continue
        now = time.monotonic()
        ended = os.path.exists(marker)
        if not ended and now >= next_check:
            ended = not container_running(docker, container)
            next_check = now + CONTAINER_CHECK
        if ended:
            if log is None and os.path.exists(log_path):
                log = open(log_path, "rb")
                log.seek(offset)
            while log:
                data = log.read(1 << 20)
                if not data:
                    break
                out.write(data)
            out.flush()
            return 0
        if now >= next_beat:
            sys.stderr.buffer.write(b"\0")
            sys.stderr.flush()
            next_beat = now + HEARTBEAT
        readable, _, _ = select.select([sys.stdin], [], [], POLL)
        if readable and not os.read(sys.stdin.fileno(), 4096):
            return 0  # the reader closed the stream (stdin must stay open while following)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:
        sys.exit(0)
