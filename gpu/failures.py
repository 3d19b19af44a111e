"""Why a job failed: an exit code and the end of its log mapped to a named reason and a sentence.

`failure_reason(exit_code, log_tail)` returns None for success (0) or a still-running job
(None), else a `FailureReason(code, message, detail)`; `code` is one of REASONS. The log shapes
are Cosmos Transfer's (see shared/reference/cosmos-transfer1.md): the most specific evidence in
the log wins over the exit code, except that 125 (docker) and 137 (killed) speak for themselves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

REASONS = {
    "docker_start_failed": "Docker could not start the container. Check the host with `cosmos host check` "
                           "(image present, NVIDIA runtime working).",
    "out_of_memory": "The GPU ran out of memory. Use fewer controls, a shorter or smaller input, or a GPU with more "
                     "memory.",
    "missing_checkpoint": "A model checkpoint is missing on the host. Download the Cosmos checkpoints into the "
                          "host's work dir (checkpoints/).",
    "missing_input": "An input file was missing on the host. Run the job again to upload it again.",
    "guardrail_blocked": "The safety guardrail blocked the prompt or the generated video. Rephrase the prompt.",
    "bad_spec": "The job's spec was rejected by Cosmos Transfer.",
    "killed": "The container was killed (cancelled, `docker kill`, or the host's out-of-memory killer).",
    "crashed": "The job crashed; the last error line of its log says why.",
}

_OOM = re.compile(r"OutOfMemoryError|CUDA out of memory|CUBLAS_STATUS_ALLOC_FAILED")
_MISSING = re.compile(r"FileNotFoundError: .*?'([^']+)'|No such file or directory: '([^']+)'")
_GUARDRAIL = re.compile(r"\|CRITICAL\|.*(not safe|guardrail|blocked)", re.IGNORECASE)
_BAD_SPEC = re.compile(r"^(?:\[rank\d+\]: )?(?:ValueError|json\.decoder\.JSONDecodeError|KeyError|TypeError): "
                       r"|: error: (?:the following arguments are required|argument )")
_ERROR_LINE = re.compile(r"^(?:\[rank\d+\]: )?[A-Za-z_.]*(?:Error|Exception)[A-Za-z_]*: ")


@dataclass(frozen=True)
class FailureReason:
    code: str
    message: str
    detail: str = ""  # the line of the log that told us, when there is one

    def __str__(self) -> str:
        return f"{self.message} ({self.detail})" if self.detail else self.message


def _last_line(pattern: re.Pattern, text: str) -> tuple[str, re.Match] | None:
    """The last line of the log that matches, without torchrun's "[rankN]: " prefix."""
    for line in reversed(text.splitlines()):
        match = pattern.search(line)
        if match:
            return re.sub(r"^\[rank\d+\]: ", "", line), match
    return None


def _reason(code: str, detail: str = "") -> FailureReason:
    return FailureReason(code, REASONS[code], detail.strip()[:300])


def failure_reason(exit_code: int | None, log_tail: str) -> FailureReason | None:
    if exit_code is None or exit_code == 0:
        return None
    tail = log_tail or ""
    if exit_code == 125:
        found = _last_line(re.compile("Error response from daemon|docker: "), tail)
        return _reason("docker_start_failed", found[0] if found else "")
    if exit_code == 137:
        return _reason("killed")
    if found := _last_line(_OOM, tail):
        return _reason("out_of_memory", found[0])
    if found := _last_line(_MISSING, tail):
        path = found[1].group(1) or found[1].group(2)
        if "checkpoints/" in path or path.endswith((".pt", ".safetensors")):
            return _reason("missing_checkpoint", path)
        return _reason("missing_input", path)
    if found := _last_line(_GUARDRAIL, tail):
        return _reason("guardrail_blocked", found[0].split("] ", 1)[-1])
    found = _last_line(_BAD_SPEC, tail)
    if found or exit_code == 2:
        return _reason("bad_spec", found[0] if found else f"exit code {exit_code}")
    found = _last_line(_ERROR_LINE, tail)
    detail = found[0] if found else f"exit code {exit_code}"
    message = REASONS["crashed"].replace("crashed;", f"crashed (exit {exit_code});")
    return FailureReason("crashed", message, detail.strip()[:300])
