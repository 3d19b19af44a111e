"""SSHTransport: commands over SSH exec channels and files over SFTP, with paramiko.

Safety: the server's host key must equal the pinned one (`RejectPolicy`; a different key is
refused with `HostKeyMismatch`, none pinned gives `UnknownHostKey` unless the caller asked to
accept a new key, which is then in `offered_host_key` for the caller to pin). Only the given
key file is used (no agent, no ~/.ssh keys). Every wait has a timeout.

Speed (see bench/transfer.py): the socket is created here with TCP_NODELAY (paramiko never sets
it, and every request that waits for a reply would stall ~40 ms on delayed ACKs), AES-GCM is
preferred, SFTP uploads use requests far larger than paramiko's 32 KiB default, downloads
stream through `cat` on an exec channel, and the server may send into an 8 MiB window.

Reconnection: each operation first checks the connection and reconnects when it dropped.
Operations that change nothing are retried once on a fresh connection when an old one turns
out dead; `run` and `stream` are not (a command may have started), they raise `ConnectionLost`.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import os
import select
import socket
import stat as stat_module
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import paramiko

from gpu.errors import (
    AuthFailed,
    ConnectionLost,
    HostKeyMismatch,
    HostUnreachable,
    RemotePathNotFound,
    TransferFailed,
    TransportError,
    TransportTimeout,
    UnknownHostKey,
)
from gpu.transports.base import (
    CHUNK,
    DEFAULT_TIMEOUT,
    Command,
    CommandResult,
    CommandStream,
    ProgressCallback,
    RemoteStat,
    Transport,
    command_line,
    copy_chunks,
    temp_name,
)

CONNECT_TIMEOUT = 10.0
AUTH_TIMEOUT = 20.0
# SFTP operations and channel opens: a server that stops answering must not hang a worker.
CHANNEL_TIMEOUT = 60.0
# OpenSSH's sftp-server takes messages up to 256 KiB; leave room for the request header.
SFTP_REQUEST = 255 * 1024
PREFERRED_CIPHERS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "aes128-ctr", "aes256-ctr")
# How much the server may send before we acknowledge: 4x paramiko's 2 MiB keeps a download
# going while the reader thread is busy (measured with bench/transfer.py).
WINDOW_SIZE = 8 * 1024 * 1024
# A failure of these while talking over an open connection means the connection is gone.
_WIRE_ERRORS = (OSError, EOFError, paramiko.SSHException)


def fingerprint(key: paramiko.PKey) -> str:
    """The SHA256 fingerprint as `ssh-keygen -l` prints it."""
    return key.fingerprint


def key_line(key: paramiko.PKey) -> str:
    """A host key as it is pinned: "<type> <base64>"."""
    return f"{key.get_name()} {key.get_base64()}"


def parse_key_line(line: str) -> paramiko.PKey:
    """The inverse of `key_line`; ValueError when the text is not a public key."""
    parts = line.split()
    if len(parts) < 2:
        raise ValueError("a host key looks like '<type> <base64>'")
    try:
        return paramiko.PKey.from_type_string(parts[0], base64.b64decode(parts[1]))
    except Exception as exc:  # paramiko raises several unrelated types for bad key data
        raise ValueError(f"not a public key: {exc}") from exc


def load_private_key(path: str) -> paramiko.PKey:
    """The private key at `path`, or AuthFailed saying what is wrong with the file."""
    expanded = os.path.expanduser(path)
    try:
        return paramiko.PKey.from_path(expanded)
    except (paramiko.PasswordRequiredException, TypeError) as exc:
        # cryptography reports an encrypted OpenSSH-format key as a TypeError about the password.
        if isinstance(exc, TypeError) and "password" not in str(exc):
            raise
        raise AuthFailed(
            f"The private key {path} is protected by a passphrase. Use a key without one for this host "
            "(e.g. `ssh-keygen -t ed25519 -N '' -f ~/.ssh/cosmos_gpu`)."
        ) from None
    except FileNotFoundError:
        raise AuthFailed(f"The private key file {path} does not exist. Check --key.") from None
    except PermissionError:
        raise AuthFailed(f"The private key file {path} cannot be read by the server's user.") from None
    except (paramiko.SSHException, ValueError, OSError) as exc:
        raise AuthFailed(f"The file {path} is not a usable private key ({exc}).") from None


class _PinningPolicy(paramiko.RejectPolicy):
    """No pinned key: reject (remembering the offered key), or accept when the caller asked to."""

    def __init__(self, transport: SSHTransport):
        self._owner = transport

    def missing_host_key(self, client, hostname, key):
        self._owner.offered_host_key = key_line(key)
        if self._owner.accept_new_key:
            return
        raise UnknownHostKey(
            f"{self._owner.label} presented a host key that is not pinned yet ({key.get_name()} "
            f"{fingerprint(key)}). Compare it with the server's "
            "(`ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub` there), then run "
            f"`cosmos host check {self._owner.host_name} --accept-new-key` to pin it.",
            offered_key=key_line(key),
            fingerprint=fingerprint(key),
        )


def _tuned_transport(sock, **kwargs) -> paramiko.Transport:
    transport = paramiko.Transport(sock, default_window_size=WINDOW_SIZE, **kwargs)
    # paramiko starts a re-key every 512 MiB, and a channel that closes while its own re-key is
    # under way deadlocks its reader thread until "Key-exchange timed out" kills the connection
    # (paramiko#822). The server re-keys by its own limits (OpenSSH: every 1-4 GiB), which is
    # safe: after its KEXINIT it sends nothing else. So only the server starts re-keys.
    transport.packetizer.REKEY_BYTES = transport.packetizer.REKEY_PACKETS = 2**62
    options = transport.get_security_options()
    available = set(options.ciphers)
    preferred = [c for c in PREFERRED_CIPHERS if c in available]
    options.ciphers = preferred + [c for c in options.ciphers if c not in preferred]
    return transport


class SSHTransport(Transport):
    def __init__(
        self,
        *,
        hostname: str,
        port: int,
        username: str,
        key_path: str,
        host_key: str = "",
        accept_new_key: bool = False,
        label: str | None = None,
        host_name: str = "NAME",
        connect_timeout: float = CONNECT_TIMEOUT,
    ):
        """`label` names the target in messages; `host_name` is the GPUHost name used in the hints."""
        self.hostname = hostname
        self.port = port
        self.username = username
        self.key_path = key_path
        self.host_key = host_key
        self.accept_new_key = accept_new_key
        self.connect_timeout = connect_timeout
        self.label = label or f"{username}@{hostname}:{port}"
        self.host_name = host_name
        #: the key the server offered when none was pinned ("<type> <base64>")
        self.offered_host_key = ""
        self._client: paramiko.SSHClient | None = None
        # Threads share the connection (each command or stream has its own channel); connecting
        # and closing take the lock, and every thread gets its own SFTP session.
        self._lock = threading.RLock()
        self._sftp_clients: dict[int, paramiko.SFTPClient] = {}

    # --- connection --------------------------------------------------------------------------

    def connect(self) -> None:
        with self._lock:
            if not self._active():
                self.close()
                self._client = self._login()

    def _login(self) -> paramiko.SSHClient:
        pkey = load_private_key(self.key_path)
        sock = self._open_socket()
        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(_PinningPolicy(self))
        if self.host_key:
            try:
                pinned = parse_key_line(self.host_key)
            except ValueError as exc:
                sock.close()
                raise HostKeyMismatch(
                    f"The pinned host key of {self.label} is unreadable ({exc}). Clear it with "
                    f"`cosmos host forget-key {self.host_name}`, then pin it again with "
                    f"`cosmos host check {self.host_name} --accept-new-key`."
                ) from None
            # paramiko looks keys up as "[host]:port" for ports other than 22.
            for name in {self.hostname, f"[{self.hostname}]:{self.port}"}:
                client.get_host_keys().add(name, pinned.get_name(), pinned)
        try:
            client.connect(
                self.hostname,
                self.port,
                username=self.username,
                pkey=pkey,
                sock=sock,
                timeout=self.connect_timeout,
                banner_timeout=self.connect_timeout,
                auth_timeout=AUTH_TIMEOUT,
                channel_timeout=CHANNEL_TIMEOUT,
                allow_agent=False,
                look_for_keys=False,
                transport_factory=_tuned_transport,
            )
        except UnknownHostKey:
            client.close()
            raise
        except paramiko.BadHostKeyException as exc:
            client.close()
            raise HostKeyMismatch(
                f"{self.label} presented host key {exc.key.get_name()} {fingerprint(exc.key)}, but "
                f"{fingerprint(exc.expected_key)} is pinned. It may be a different machine, or the server was "
                "reinstalled. Verify the new fingerprint on the server; if it is right, run "
                f"`cosmos host forget-key {self.host_name}` and `cosmos host check {self.host_name} --accept-new-key`."
            ) from None
        except paramiko.AuthenticationException:
            client.close()
            raise AuthFailed(
                f"{self.label} refused the key {self.key_path} for user {self.username!r}. Add its public key "
                f"to ~{self.username}/.ssh/authorized_keys on the host, or check --key and the user name."
            ) from None
        except (paramiko.SSHException, EOFError, OSError) as exc:
            client.close()
            # paramiko gives up waiting for a silent server with "No existing session" or a banner error.
            if isinstance(exc, (socket.timeout, TimeoutError)) or any(
                words in str(exc) for words in ("No existing session", "banner", "timed out")
            ):
                raise TransportTimeout(
                    f"{self.label} accepted the connection but did not complete the SSH login within "
                    f"{self.connect_timeout:g} s. Is it an SSH server, and is it overloaded?"
                ) from None
            raise HostUnreachable(
                f"{self.label} closed the connection during the SSH handshake ({exc or type(exc).__name__}). "
                "Check that the port is an SSH server's and that it allows this client."
            ) from None
        return client

    def _open_socket(self) -> socket.socket:
        try:
            sock = socket.create_connection((self.hostname, self.port), timeout=self.connect_timeout)
        except socket.gaierror:
            raise HostUnreachable(
                f"The host name {self.hostname!r} cannot be resolved. Check the hostname of this host."
            ) from None
        except ConnectionRefusedError:
            raise HostUnreachable(
                f"{self.hostname}:{self.port} refused the connection. Is sshd running there, and is the port right?"
            ) from None
        except (socket.timeout, TimeoutError):
            raise TransportTimeout(
                f"No answer from {self.hostname}:{self.port} within {self.connect_timeout:g} s. "
                "Check the address, the port, a firewall or the VPN."
            ) from None
        except OSError as exc:
            raise HostUnreachable(f"Cannot reach {self.hostname}:{self.port}: {exc.strerror or exc}.") from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def _active(self) -> bool:
        transport = self._client.get_transport() if self._client else None
        return bool(transport and transport.is_active())

    def close(self) -> None:
        with self._lock:
            for sftp in self._sftp_clients.values():
                with contextlib.suppress(*_WIRE_ERRORS):
                    sftp.close()
            self._sftp_clients.clear()
            if self._client is not None:
                self._client.close()
                self._client = None

    def _transport(self) -> paramiko.Transport:
        with self._lock:
            self.connect()
            return self._client.get_transport()

    def _sftp(self) -> paramiko.SFTPClient:
        """This thread's SFTP session on the current connection (paramiko's is not for sharing)."""
        transport = self._transport()
        key = threading.get_ident()
        sftp = self._sftp_clients.get(key)
        if sftp is None or sftp.get_channel().get_transport() is not transport:
            try:
                sftp = paramiko.SFTPClient.from_transport(transport)
            except _WIRE_ERRORS as exc:
                raise self._lost("opening SFTP", exc) from None
            sftp.get_channel().settimeout(CHANNEL_TIMEOUT)
            with self._lock:
                self._sftp_clients[key] = sftp
        return sftp

    def _lost(self, doing: str, exc: BaseException) -> TransportError:
        """Forget a broken connection and describe the failure."""
        self.close()
        if isinstance(exc, (socket.timeout, TimeoutError)):
            return TransportTimeout(f"{self.label} stopped answering while {doing}. The connection was reset.")
        return ConnectionLost(f"The connection to {self.label} dropped while {doing} ({exc or type(exc).__name__}).")

    def _open_channel(self, command: Command) -> paramiko.Channel:
        try:
            channel = self._transport().open_session(timeout=CHANNEL_TIMEOUT)
            channel.exec_command(command_line(command))
        except TransportError:
            raise
        except _WIRE_ERRORS as exc:
            raise self._lost("starting a command", exc) from None
        return channel

    # --- commands ----------------------------------------------------------------------------

    def run(self, command: Command, *, timeout: float | None = DEFAULT_TIMEOUT) -> CommandResult:
        channel = self._open_channel(command)
        out, err = bytearray(), bytearray()
        deadline = time.monotonic() + timeout if timeout else None
        try:
            channel.shutdown_write()  # nothing to send: commands see end-of-file on stdin
            for kind, data in self._pump(channel, deadline=deadline):
                (out if kind == "out" else err).extend(data)
            code = self._exit_status(channel)
        except TimeoutError:
            raise TransportTimeout(
                f"A command on {self.label} did not finish within {timeout:g} s and was abandoned: "
                f"{command_line(command)[:120]}"
            ) from None
        finally:
            channel.close()
        return CommandResult(code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))

    def stream(
        self, command: Command, *, merge_stderr: bool = True, idle_timeout: float | None = None
    ) -> CommandStream:
        channel = self._open_channel(command)
        return CommandStream(self._pump(channel, idle_timeout=idle_timeout), lambda: self._exit_status(channel),
                             channel.close, merge_stderr=merge_stderr)

    def _pump(
        self, channel: paramiko.Channel, *, deadline: float | None = None, idle_timeout: float | None = None
    ) -> Iterator[tuple[str, bytes]]:
        """Yield ("out"|"err", bytes) as they arrive until the command closes its output."""
        last_data = time.monotonic()
        try:
            while True:
                got = False
                if channel.recv_ready():
                    yield "out", channel.recv(CHUNK)
                    got = True
                if channel.recv_stderr_ready():
                    yield "err", channel.recv_stderr(CHUNK)
                    got = True
                if got:
                    last_data = time.monotonic()
                    continue
                if channel.eof_received or channel.closed:
                    return
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    raise TimeoutError
                if idle_timeout is not None and now - last_data > idle_timeout:
                    raise ConnectionLost(f"{self.label} sent nothing for {idle_timeout:g} s; the connection is presumed dead.")
                if not self._active():
                    raise ConnectionLost(f"The connection to {self.label} dropped while a command was running.")
                wait = 1.0 if deadline is None else min(1.0, deadline - now)
                select.select([channel], [], [], wait)
        except ConnectionLost:
            self.close()
            raise
        except _WIRE_ERRORS as exc:
            raise self._lost("reading a command's output", exc) from None

    def _exit_status(self, channel: paramiko.Channel) -> int:
        # The exit status arrives just before the channel closes; give it a moment.
        if not channel.status_event.wait(10):
            raise self._lost("waiting for a command's exit status", TimeoutError())
        code = channel.exit_status
        if code == -1:
            if not self._active():
                raise ConnectionLost(f"The connection to {self.label} dropped before a command reported its exit.")
            return 255  # ended without an exit status (killed by a signal): what ssh(1) reports
        return code

    # --- files -------------------------------------------------------------------------------

    def _file_op(self, doing: str, function: Callable, *args):
        """Run one SFTP call; a dead connection is retried once on a fresh one."""
        for attempt in (1, 2):
            was_connected = self._active()
            try:
                return function(self._sftp(), *args)
            except FileNotFoundError:
                raise RemotePathNotFound(f"{args[0]} does not exist on {self.label}.") from None
            except PermissionError:
                raise TransferFailed(f"Permission denied on {self.label} for {args[0]} while {doing}.") from None
            except TransportError:
                raise
            except _WIRE_ERRORS as exc:
                error = self._lost(doing, exc)
                if attempt == 2 or not was_connected:
                    raise error from None

    def _command_op(self, command: list[str]) -> CommandResult:
        """Run a command that changes nothing (or is idempotent); retried once on a dead connection."""
        was_connected = self._active()
        try:
            return self.run(command)
        except ConnectionLost:
            if not was_connected:
                raise
            return self.run(command)

    def put(self, local_path: str | Path, remote_path: str, *, on_progress: ProgressCallback | None = None) -> int:
        total = os.path.getsize(local_path)
        tmp = temp_name(remote_path)

        def upload(sftp: paramiko.SFTPClient, target: str) -> int:
            try:
                with open(local_path, "rb") as source, sftp.open(tmp, "wb") as remote:
                    remote.MAX_REQUEST_SIZE = SFTP_REQUEST
                    remote.set_pipelined(True)
                    copy_chunks(lambda: source.read(CHUNK), remote.write, total, on_progress)
                written = sftp.stat(tmp).st_size
                if written != total:
                    raise TransferFailed(
                        f"Upload of {local_path} to {self.label} stored {written} of {total} bytes; nothing was kept."
                    )
                self._rename(sftp, tmp, target)
            except BaseException:
                with contextlib.suppress(*_WIRE_ERRORS):
                    sftp.remove(tmp)
                raise
            return total

        return self._file_op("uploading", upload, remote_path)

    def get(self, remote_path: str, local_path: str | Path, *, on_progress: ProgressCallback | None = None) -> int:
        # Downloads stream through `cat` on an exec channel: a third of the CPU of an SFTP download
        # in paramiko (no request/response bookkeeping per 32 KiB), faster than scp on loopback.
        local_path = Path(local_path)
        local_path.parent.mkdir(parents=True, exist_ok=True)
        for attempt in (1, 2):
            was_connected = self._active()
            try:
                return self._download(remote_path, local_path, on_progress)
            except ConnectionLost:
                if attempt == 2 or not was_connected:
                    raise

    def _download(self, remote_path: str, local_path: Path, on_progress: ProgressCallback | None) -> int:
        total = self.stat(remote_path).size
        tmp = Path(temp_name(str(local_path)))
        channel = self._open_channel(["cat", "--", remote_path])
        try:
            with open(tmp, "wb") as target:
                done = self._receive(channel, target, total, remote_path, on_progress)
            code = self._exit_status(channel)
            if code != 0:
                errors = channel.recv_stderr(CHUNK) if channel.recv_stderr_ready() else b""
                raise TransferFailed(f"Download of {remote_path} from {self.label} failed: "
                                     f"{errors.decode('utf-8', 'replace').strip() or f'exit {code}'}.")
            if done != total:
                raise TransferFailed(f"Download of {remote_path} from {self.label} got {done} of {total} bytes; "
                                     "nothing was kept.")
            os.replace(tmp, local_path)
        except OSError as exc:  # the local side: disk full, permissions
            raise TransferFailed(f"Cannot write {local_path}: {exc.strerror or exc}.") from None
        finally:
            tmp.unlink(missing_ok=True)
            channel.close()
        return total

    def _receive(self, channel: paramiko.Channel, target, total: int, remote_path: str,
                 on_progress: ProgressCallback | None) -> int:
        """Copy a command's stdout into a file with plain blocking reads (no select pipe, which
        costs two system calls per packet); return the byte count."""
        try:
            channel.shutdown_write()
            channel.settimeout(CHANNEL_TIMEOUT)
            return copy_chunks(lambda: channel.recv(CHUNK), target.write, total, on_progress)
        except (socket.timeout, TimeoutError):
            raise self._lost(f"downloading {remote_path}", TimeoutError()) from None
        except (EOFError, paramiko.SSHException, ConnectionError) as exc:
            raise self._lost(f"downloading {remote_path}", exc) from None

    @staticmethod
    def _rename(sftp: paramiko.SFTPClient, source: str, target: str) -> None:
        try:
            sftp.posix_rename(source, target)  # atomic replace (OpenSSH extension)
        except OSError:
            with contextlib.suppress(FileNotFoundError):
                sftp.remove(target)
            sftp.rename(source, target)

    def stat(self, path: str) -> RemoteStat:
        attrs = self._file_op("reading file details", lambda sftp, p: sftp.stat(p), path)
        return RemoteStat(size=attrs.st_size, mtime=float(attrs.st_mtime), is_dir=stat_module.S_ISDIR(attrs.st_mode))

    def exists(self, path: str) -> bool:
        try:
            self.stat(path)
        except RemotePathNotFound:
            return False
        return True

    def mkdir_p(self, path: str) -> None:
        self._command_op(["mkdir", "-p", "--", path]).check(f"Creating the folder {path}")

    def remove(self, path: str, *, recursive: bool = False) -> None:
        self._command_op(["rm", "-rf" if recursive else "-f", "--", path]).check(f"Removing {path}")

    def sha256(self, path: str) -> str:
        result = self._command_op(["sha256sum", "--", path])
        if not result.ok and "No such file" in result.stderr:
            raise RemotePathNotFound(f"{path} does not exist on {self.label}.")
        return result.check(f"Hashing {path}").stdout.split()[0]

    def read_text(self, path: str) -> str:
        def read(sftp: paramiko.SFTPClient, p: str) -> str:
            with sftp.open(p, "rb") as handle:
                return handle.read().decode("utf-8")

        return self._file_op("reading a file", read, path)

    def write_text(self, path: str, text: str) -> None:
        tmp = temp_name(path)

        def write(sftp: paramiko.SFTPClient, target: str) -> None:
            try:
                with sftp.open(tmp, "wb") as handle:
                    handle.write(text.encode("utf-8"))
                self._rename(sftp, tmp, target)
            except BaseException:
                with contextlib.suppress(*_WIRE_ERRORS):
                    sftp.remove(tmp)
                raise

        self._file_op("writing a file", write, path)

    def list_files(self, path: str) -> dict[str, int]:
        # NUL-separated so that any file name survives; "<size>\t<relative path>\0".
        result = self._command_op(["find", path, "-type", "f", "-printf", "%s\\t%P\\0"])
        if not result.ok:
            if "No such file" in result.stderr:
                return {}
            result.check(f"Listing {path}")
        found = {}
        for entry in result.stdout.split("\0"):
            if entry:
                size, _, name = entry.partition("\t")
                found[name] = int(size)
        return dict(sorted(found.items()))

    @functools.cached_property
    def _home(self) -> str:
        return self._file_op("finding the home folder", lambda sftp, p: sftp.normalize(p), ".")

    def home_dir(self) -> str:
        return self._home
