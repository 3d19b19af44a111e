"""The one interface every transport offers: run, stream, copy files, and small file operations.

A `Transport` talks to one host. Open it with `transport_for(host)` (or use it as a context
manager); it connects lazily, reconnects by itself when the connection dropped between two
operations, and raises a `gpu.errors.TransportError` subclass for every failure, with a message
that says what to do. Threads may share a transport (e.g. one follows a log while another asks
for the job's state); each command or stream runs on its own channel.

Paths are the host's paths (POSIX strings). Commands are argv lists (each word is quoted for the
remote shell, nothing is ever pasted unquoted) or, rarely, a ready shell line.

Files are copied atomically: to a temporary name beside the target, verified by size, then
renamed; a failed copy leaves nothing at the target path.
"""

from __future__ import annotations

import hashlib
import os
import shlex
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from gpu.errors import RemoteCommandFailed

Command = Sequence[str] | str
ProgressCallback = Callable[[int, int], None]  # (bytes done, bytes total)

# How long a command may run unless the caller says otherwise.
DEFAULT_TIMEOUT = 120.0
# Copy buffer: large enough to keep a pipe or an SFTP window busy.
CHUNK = 1024 * 1024


def file_sha256(path: str | Path) -> str:
    """The sha256 of a local file, read in chunks (outputs can be gigabytes)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def copy_chunks(read: Callable[[], bytes], write: Callable[[bytes], object], total: int,
                on_progress: ProgressCallback | None) -> int:
    """Copy until `read()` returns b"", telling `on_progress(done, total)`; return the bytes copied."""
    done = 0
    while chunk := read():
        write(chunk)
        done += len(chunk)
        if on_progress:
            on_progress(done, total)
    return done


def command_line(command: Command) -> str:
    """The shell line for a command: argv words are each quoted; a string is taken as it is."""
    if isinstance(command, str):
        return command
    return shlex.join(command)


def temp_name(path: str) -> str:
    """A sibling name for an atomic write; unique per process and call."""
    return f"{path}.part-{os.getpid()}-{os.urandom(4).hex()}"


@dataclass(frozen=True)
class CommandResult:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def check(self, what: str) -> CommandResult:
        """Return self when the command succeeded, else raise RemoteCommandFailed naming `what`."""
        if not self.ok:
            detail = (self.stderr.strip() or self.stdout.strip()).splitlines()[-1:] or ["no output"]
            raise RemoteCommandFailed(
                f"{what} failed on the host (exit {self.exit_code}): {detail[0]}",
                exit_code=self.exit_code,
                stderr=self.stderr,
            )
        return self


@dataclass(frozen=True)
class RemoteStat:
    size: int
    mtime: float
    is_dir: bool


class CommandStream:
    """The output of a running command, line by line as it arrives.

    Iterating yields text lines without their line ending (decoded as UTF-8; bad bytes become
    U+FFFD); `raw_lines()` yields the bytes with their ending instead (the last line may have
    none). A line is handed over as soon as its newline arrives; a final line without one is
    handed over at the end. After the iteration `exit_code` holds the command's exit code and
    `stderr` the tail of its error output (when stderr is not merged into the lines).

    `close()` (or leaving the `with` block) stops reading early; the command gets end-of-file on
    its stdin and is expected to stop (`gpu/remote/follow_log.py` does).
    """

    STDERR_TAIL = 64 * 1024

    def __init__(
        self,
        chunks: Iterator[tuple[str, bytes]],
        finish: Callable[[], int],
        close: Callable[[], None],
        *,
        merge_stderr: bool = True,
    ):
        """`chunks` yields ("out" | "err", bytes) as they arrive; `finish` returns the exit code."""
        self._chunks = chunks
        self._finish = finish
        self._close = close
        self._merge = merge_stderr
        self._stderr = bytearray()
        self.exit_code: int | None = None

    def _keep_stderr(self, data: bytes) -> None:
        self._stderr += data
        if len(self._stderr) > self.STDERR_TAIL:
            del self._stderr[: len(self._stderr) - self.STDERR_TAIL]

    @property
    def stderr(self) -> str:
        return self._stderr.decode("utf-8", "replace")

    def raw_lines(self) -> Iterator[bytes]:
        # Each stream has its own unfinished line: merged output never splices stdout into stderr.
        pending = {"out": b"", "err": b""}
        for kind, chunk in self._chunks:
            if kind == "err" and not self._merge:
                self._keep_stderr(chunk)
                continue
            if b"\n" not in chunk:
                pending[kind] += chunk
                continue
            parts = (pending[kind] + chunk).split(b"\n")
            pending[kind] = parts.pop()
            for part in parts:
                yield part + b"\n"
        for rest in pending.values():
            if rest:
                yield rest
        self.exit_code = self._finish()

    def __iter__(self) -> Iterator[str]:
        for raw in self.raw_lines():
            yield decode_line(raw)

    def close(self) -> None:
        self._close()

    def __enter__(self) -> CommandStream:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def decode_line(raw: bytes) -> str:
    """A raw line as text without its line ending ("\\n" or "\\r\\n")."""
    text = raw.decode("utf-8", "replace")
    if text.endswith("\n"):
        text = text[:-1]
    if text.endswith("\r"):
        text = text[:-1]
    return text


class Transport(ABC):
    """How the execution layer reaches a host. See the module docstring for the guarantees."""

    #: a short human description of the target, used in error messages
    label: str = "host"

    # --- lifecycle ---------------------------------------------------------------------------

    def connect(self) -> None:  # noqa: B027 - a transport without a connection has nothing to do
        """Open the connection now (it is opened on first use otherwise)."""

    def close(self) -> None:  # noqa: B027
        """Release the connection; the transport reconnects if it is used again."""

    def __enter__(self) -> Transport:
        self.connect()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- commands ----------------------------------------------------------------------------

    @abstractmethod
    def run(self, command: Command, *, timeout: float | None = DEFAULT_TIMEOUT) -> CommandResult:
        """Run a command to its end; `TransportTimeout` when it takes longer than `timeout`."""

    @abstractmethod
    def stream(
        self, command: Command, *, merge_stderr: bool = True, idle_timeout: float | None = None
    ) -> CommandStream:
        """Start a command and read its output as it comes (see `CommandStream`).

        `idle_timeout`: raise `ConnectionLost` when neither stdout nor stderr produced a byte for
        that many seconds (a command meant to be followed for hours should print a heartbeat on
        stderr, as `follow_log.py` does, so that a dead connection is noticed).
        """

    # --- files -------------------------------------------------------------------------------

    @abstractmethod
    def put(self, local_path: str | Path, remote_path: str, *, on_progress: ProgressCallback | None = None) -> int:
        """Upload a file atomically; return its size. The remote parent folder must exist."""

    @abstractmethod
    def get(self, remote_path: str, local_path: str | Path, *, on_progress: ProgressCallback | None = None) -> int:
        """Download a file atomically; return its size. The local parent folder is created."""

    @abstractmethod
    def stat(self, path: str) -> RemoteStat:
        """Size, mtime and kind of a path; `RemotePathNotFound` when it is absent."""

    @abstractmethod
    def exists(self, path: str) -> bool: ...

    @abstractmethod
    def mkdir_p(self, path: str) -> None: ...

    @abstractmethod
    def remove(self, path: str, *, recursive: bool = False) -> None:
        """Remove a file (or a folder tree with `recursive`); an absent path is not an error."""

    @abstractmethod
    def sha256(self, path: str) -> str: ...

    @abstractmethod
    def read_text(self, path: str) -> str: ...

    @abstractmethod
    def write_text(self, path: str, text: str) -> None:
        """Write a small text file atomically (temporary name, then rename)."""

    @abstractmethod
    def list_files(self, path: str) -> dict[str, int]:
        """Every regular file below a folder: {relative POSIX path: size}; {} if it is absent."""

    @abstractmethod
    def home_dir(self) -> str:
        """The home folder of the account commands run as."""
