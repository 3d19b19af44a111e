#!/usr/bin/env python3
"""Follow a job's log from a byte offset until the job has ended and the log is drained.

Runs on the GPU host (not in the container), with the host's python3 (3.6+, stdlib only).
usage: follow_log.py JOB_DIR OFFSET CONTAINER DOCKER_COMMAND...

Writes the raw bytes of JOB_DIR/job.log from OFFSET to stdout as they are appended. The job
has ended when JOB_DIR/exit_code exists or the container is not running (killed, removed, or
never started); the log is then read to its end and the program exits 0. It exits as well
when its stdin reaches end-of-file (the reader went away), and writes a heartbeat (a NUL
byte) to stderr every few seconds so that a reader can tell a silent job from a dead connection.

Latency: an idle log is looked at every POLL seconds, and `docker inspect` (which takes
a tenth of a second or more) runs beside the reading, never in its way: a busy log is
never held up by the check.
"""

import os
import select
import subprocess
import sys
import time

POLL = 0.005  # seconds between looks at an idle log (a line waits at most this long here)
CONTAINER_CHECK = 1.0  # seconds between `docker inspect` calls while idle
CHECK_TIMEOUT = 60.0
HEARTBEAT = 5.0


class ContainerCheck:
    """`docker inspect` of the container, run in the background: start(), then done() / running()."""

    def __init__(self, docker, name):
        self.argv = docker + ["inspect", "--format", "{{.State.Running}}", name]
        self.process = None
        self.started = 0.0

    def start(self):
        try:
            self.process = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                            stderr=subprocess.DEVNULL)
        except OSError:
            self.process = None  # cannot tell: keep following, the marker or the next check will decide
        self.started = time.monotonic()

    def pending(self):
        return self.process is not None

    def result(self):
        """None while the check runs; else True when the container is (or may be) running."""
        process = self.process
        if process.poll() is None:
            if time.monotonic() - self.started < CHECK_TIMEOUT:
                return None
            process.kill()
            process.wait()
            self.process = None
            return True  # docker hangs: cannot tell, keep following
        self.process = None
        output = process.stdout.read()  # a word: it fitted in the pipe while the command ran
        process.stdout.close()
        return process.returncode == 0 and output.strip() == b"true"


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
    check = ContainerCheck(docker, container)
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
        if not ended and check.pending():
            running = check.result()
            ended = running is False
        elif not ended and now >= next_check:
            check.start()
            next_check = now + CONTAINER_CHECK
        if ended:
            # Whatever the container wrote is in the file now: read it to its end.
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
