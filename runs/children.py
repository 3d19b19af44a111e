"""Stopping the child processes a supervisor started: runcosmos (worker + web server) and
cosmosproject.serve (the daphne processes). Plain Python, no Django: any entry point may import it."""

from __future__ import annotations

import subprocess
import time


def stop_children(children, grace: float) -> None:
    """SIGTERM every child still running, wait for them, SIGKILL what outlives `grace` seconds."""
    for child in children:
        if child.poll() is None:
            child.terminate()
    deadline = time.monotonic() + grace
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
