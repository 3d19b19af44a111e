"""Why a run failed, as a code (`Run.failure_reason`) and a sentence (`Run.error`).

What the container itself did (out of GPU memory, missing checkpoint, blocked by the safety
check, docker could not start it, killed, crashed) is read from its exit code and log tail by
`gpu.failures`; this module adds what only the runs layer sees: the host stayed unreachable,
the container vanished, a job outlived its time, a completed run lost its files.
"""

from __future__ import annotations

from gpu.failures import failure_reason

LOST_CONNECTION = "lost_connection"
CONTAINER_GONE = "container_gone"
HOST_REMOVED = "host_removed"
NO_OUTPUT = "no_output"
HOST_ERROR = "host_error"
WORKER_FAILED = "worker_failed"
INTEGRITY = "integrity"

MESSAGES = {
    LOST_CONNECTION: "Lost the connection to the GPU host and could not get it back.",
    CONTAINER_GONE: "The container disappeared from the host before its result was collected.",
    HOST_REMOVED: "The GPU host of this run was removed.",
    NO_OUTPUT: "The container ended without writing this run's output video.",
}


def container_failure(exit_code: int | None, log_tail: list[str]) -> tuple[str, str]:
    """(code, sentence) for a container that ended without the output we needed."""
    if exit_code is None:
        return CONTAINER_GONE, MESSAGES[CONTAINER_GONE]
    failure = failure_reason(exit_code, "\n".join(log_tail))
    if failure is None:  # exit 0 and still no output
        return NO_OUTPUT, MESSAGES[NO_OUTPUT]
    return failure.code, str(failure)


def named(code: str, detail: str = "") -> tuple[str, str]:
    message = MESSAGES.get(code, code)
    return code, f"{message} {detail}".strip()
