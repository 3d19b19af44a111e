"""LocalTransport: the host is this machine; commands are subprocesses, files are local files.

Used for a GPU box that runs the server itself, and for the local simulated host (then `env`
puts the simulator's `docker` and `nvidia-smi` first on PATH). It behaves like `SSHTransport`
in every way the callers can see: the same exit codes (127 for a missing program, 128+N for a
signal), atomic verified copies, the same errors.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from gpu.errors import ConnectionLost, RemoteCommandFailed, RemotePathNotFound, TransferFailed, TransportTimeout
from gpu.transports.base import (
    CHUNK,
    DEFAULT_TIMEOUT,
    Command,
    CommandResult,
    CommandStream,
    ProgressCallback,
    RemoteStat,
    Transport,
    copy_chunks,
    file_sha256,
    temp_name,
)


def _argv(command: Command) -> list[str]:
    # A ready shell line runs under /bin/sh -c, as sshd would run it with the user's shell.
    if isinstance(command, str):
        return ["/bin/sh", "-c", command]
    return list(command)


def _exit_code(returncode: int) -> int:
    # A shell reports death by signal N as 128+N; subprocess reports -N.
    return 128 - returncode if returncode < 0 else returncode


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _os_error(what: str, path: str, exc: OSError) -> Exception:
    if isinstance(exc, FileNotFoundError):
        return RemotePathNotFound(f"{what}: {path} does not exist on this machine.")
    return RemoteCommandFailed(f"{what} failed for {path}: {exc.strerror or exc}.")


def copy_file(source: str | Path, target: str | Path, *, on_progress: ProgressCallback | None) -> int:
    """Copy a file to a temporary sibling of `target`, check its size, then rename it into place."""
    total = os.path.getsize(source)
    tmp = temp_name(str(target))
    try:
        with open(source, "rb") as src, open(tmp, "wb") as dst:
            copy_chunks(lambda: src.read(CHUNK), dst.write, total, on_progress)
        written = os.path.getsize(tmp)
        if written != total:
            raise TransferFailed(f"Copy of {source} wrote {written} of {total} bytes; nothing was kept.")
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return total


class LocalTransport(Transport):
    def __init__(self, *, env: Mapping[str, str] | None = None, label: str = "this machine"):
        self.label = label
        self._env = {**os.environ, **(env or {})}

    # --- commands ----------------------------------------------------------------------------

    def _popen(self, command: Command, **kwargs) -> subprocess.Popen | None:
        try:
            # A new session: a timeout or close() can stop the command and all it started.
            return subprocess.Popen(_argv(command), env=self._env, start_new_session=True, **kwargs)
        except FileNotFoundError:
            return None

    def run(self, command: Command, *, timeout: float | None = DEFAULT_TIMEOUT) -> CommandResult:
        process = self._popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if process is None:
            return CommandResult(127, "", f"{_argv(command)[0]}: command not found\n")
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            process.communicate()
            raise TransportTimeout(
                f"A command on {self.label} did not finish within {timeout:g} s and was stopped: "
                f"{_argv(command)[0]}"
            ) from None
        return CommandResult(
            _exit_code(process.returncode), out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
        )

    def stream(
        self, command: Command, *, merge_stderr: bool = True, idle_timeout: float | None = None
    ) -> CommandStream:
        process = self._popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
        )
        if process is None:
            missing = [("err", f"{_argv(command)[0]}: command not found\n".encode())]
            return CommandStream(iter(missing), lambda: 127, lambda: None, merge_stderr=merge_stderr)

        def chunks() -> Iterator[tuple[str, bytes]]:
            selector = selectors.DefaultSelector()
            selector.register(process.stdout, selectors.EVENT_READ, "out")
            if not merge_stderr:
                selector.register(process.stderr, selectors.EVENT_READ, "err")
            open_streams = len(selector.get_map())
            last_data = time.monotonic()
            try:
                while open_streams:
                    events = selector.select(timeout=1.0 if idle_timeout else None)
                    if not events and idle_timeout and time.monotonic() - last_data > idle_timeout:
                        raise ConnectionLost(f"The command on {self.label} sent nothing for {idle_timeout:g} s.")
                    for key, _ in events:
                        data = os.read(key.fileobj.fileno(), CHUNK)
                        if not data:
                            selector.unregister(key.fileobj)
                            open_streams -= 1
                            continue
                        last_data = time.monotonic()
                        yield key.data, data
            finally:
                selector.close()

        def finish() -> int:
            return _exit_code(process.wait())

        def close() -> None:
            if process.poll() is None:
                with contextlib.suppress(OSError):
                    process.stdin.close()
                _kill_group(process)
            process.wait()
            for pipe in (process.stdin, process.stdout, process.stderr):
                if pipe:
                    pipe.close()

        return CommandStream(chunks(), finish, close, merge_stderr=merge_stderr)

    # --- files -------------------------------------------------------------------------------

    def put(self, local_path: str | Path, remote_path: str, *, on_progress: ProgressCallback | None = None) -> int:
        try:
            return copy_file(local_path, remote_path, on_progress=on_progress)
        except OSError as exc:
            raise _os_error("Upload", remote_path, exc) from exc

    def get(self, remote_path: str, local_path: str | Path, *, on_progress: ProgressCallback | None = None) -> int:
        Path(local_path).parent.mkdir(parents=True, exist_ok=True)
        try:
            return copy_file(remote_path, local_path, on_progress=on_progress)
        except OSError as exc:
            raise _os_error("Download", remote_path, exc) from exc

    def stat(self, path: str) -> RemoteStat:
        try:
            st = os.stat(path)
        except OSError as exc:
            raise _os_error("stat", path, exc) from exc
        return RemoteStat(size=st.st_size, mtime=st.st_mtime, is_dir=os.path.isdir(path))

    def exists(self, path: str) -> bool:
        return os.path.exists(path)

    def mkdir_p(self, path: str) -> None:
        try:
            os.makedirs(path, exist_ok=True)
        except OSError as exc:
            raise _os_error("mkdir", path, exc) from exc

    def remove(self, path: str, *, recursive: bool = False) -> None:
        try:
            if recursive and os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise _os_error("remove", path, exc) from exc

    def sha256(self, path: str) -> str:
        try:
            return file_sha256(path)
        except OSError as exc:
            raise _os_error("sha256", path, exc) from exc

    def read_text(self, path: str) -> str:
        try:
            return Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise _os_error("read", path, exc) from exc

    def write_text(self, path: str, text: str) -> None:
        tmp = temp_name(path)
        try:
            Path(tmp).write_text(text, encoding="utf-8")
            os.replace(tmp, path)
        except OSError as exc:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise _os_error("write", path, exc) from exc

    def list_files(self, path: str) -> dict[str, int]:
        found: dict[str, int] = {}
        root = Path(path)
        for folder, _dirs, files in os.walk(root):
            for name in files:
                full = Path(folder) / name
                if full.is_file():
                    found[full.relative_to(root).as_posix()] = full.stat().st_size
        return dict(sorted(found.items()))

    def home_dir(self) -> str:
        return str(Path.home())
