"""Errors of the execution layer. Each message says what failed and, where it can, what to do.

Every class has a `kind` that entry points map to their own form without knowing the class:
`invalid` (422 / bad input), `not_found` (404), `not_allowed` (403), `conflict` (409) and
`unavailable` (503: the host or the connection failed). `field` names the offending input.
"""

from __future__ import annotations


class GPUError(Exception):
    """Base of every gpu/ error; `message` is safe to show to a user."""

    kind = "unavailable"

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


# --- hosts (service layer) --------------------------------------------------------------------


class HostInputInvalid(GPUError):
    """A host's settings are wrong (bad name, missing key file, port out of range...)."""

    kind = "invalid"


class HostNotFound(GPUError):
    kind = "not_found"


class HostNotAllowed(GPUError):
    """Only staff manage GPU hosts."""

    kind = "not_allowed"


class HostNameTaken(GPUError):
    kind = "conflict"


class HostCheckFailed(GPUError):
    """`cosmos host check` found a problem (the report says which)."""


# --- connections and transports ---------------------------------------------------------------


class TransportError(GPUError):
    """Base of the failures to reach a host or to talk to it."""


class HostUnreachable(TransportError):
    """Nothing answered: connection refused, no route, unknown host name."""


class TransportTimeout(TransportError):
    """The host did not answer in time (connect, login or a command)."""


class AuthFailed(TransportError):
    """The server refused our key (or the key file could not be used)."""


class HostKeyMismatch(TransportError):
    """The server's host key differs from the pinned one: possibly a different machine."""


class UnknownHostKey(TransportError):
    """No host key is pinned yet; `offered_key` is what the server presented."""

    def __init__(self, message: str, *, offered_key: str = "", fingerprint: str = ""):
        super().__init__(message)
        self.offered_key = offered_key
        self.fingerprint = fingerprint


class ConnectionLost(TransportError):
    """An established connection dropped in the middle of an operation."""


class RemoteCommandFailed(TransportError):
    """A command on the host exited non-zero where success was required."""

    def __init__(self, message: str, *, exit_code: int | None = None, stderr: str = ""):
        super().__init__(message)
        self.exit_code = exit_code
        self.stderr = stderr


class RemotePathNotFound(TransportError):
    kind = "not_found"


class TransferFailed(TransportError):
    """A file copy ended with the wrong size or content; nothing was left at the target path."""


# --- jobs (DockerExecutor) --------------------------------------------------------------------


class JobIdInvalid(GPUError):
    kind = "invalid"


class SpecInvalid(GPUError):
    """A spec / JSONL / upsampler input could not be built from the given values."""

    kind = "invalid"


class JobNotFound(GPUError):
    kind = "not_found"


class JobAlreadyRunning(GPUError):
    kind = "conflict"


class DockerStartFailed(GPUError):
    """`docker run` exited 125: the container never started. The job's log holds docker's words."""

    def __init__(self, message: str, *, exit_code: int = 125, stderr: str = ""):
        super().__init__(message)
        self.exit_code = exit_code
        self.stderr = stderr
