"""SSHTransport against a real sshd: host keys, authentication, unreachable hosts, dropped connections."""

from __future__ import annotations

import socket
import subprocess
import threading
import time

import pytest

from gpu.errors import AuthFailed, ConnectionLost, HostKeyMismatch, HostUnreachable, TransportTimeout, UnknownHostKey
from gpu.transports.ssh import SSHTransport


def make(sshd, **overrides) -> SSHTransport:
    values = {"hostname": sshd.host, "port": sshd.port, "username": sshd.user, "key_path": str(sshd.client_key),
              "host_key": sshd.host_key, **overrides}
    return SSHTransport(**values)


def new_key(tmp_path, name="other", passphrase=""):
    path = tmp_path / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-f", str(path)], check=True)
    return path


class Proxy:
    """A TCP relay to the sshd that the test can cut, as a network failure would."""

    def __init__(self, port: int):
        self.target = port
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a, b):
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass

    def cut(self):
        for sock in self.sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        self.sockets.clear()

    def close(self):
        self.cut()
        self.server.close()


def test_connects_with_tcp_nodelay_and_aes_gcm(sshd):
    with make(sshd) as t:
        transport = t._client.get_transport()
        assert transport.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        assert transport.local_cipher == "aes128-gcm@openssh.com"
        assert t.run(["whoami"]).stdout.strip() == sshd.user


def test_only_the_server_starts_re_keys(sshd):
    # paramiko deadlocks when a channel closes during a re-key it started itself (paramiko#822).
    with make(sshd) as t:
        assert t._client.get_transport().packetizer.REKEY_BYTES >= 2**40


def test_a_different_host_key_is_refused(sshd, tmp_path):
    other = (tmp_path / "other.pub")
    key = new_key(tmp_path)
    other = " ".join(key.with_suffix(".pub").read_text().split()[:2])
    with pytest.raises(HostKeyMismatch) as exc:
        make(sshd, host_key=other).connect()
    assert "may be a different machine" in exc.value.message
    assert "forget-key" in exc.value.message


def test_an_unpinned_host_key_is_refused_with_its_fingerprint(sshd):
    with pytest.raises(UnknownHostKey) as exc:
        make(sshd, host_key="").connect()
    assert exc.value.offered_key == sshd.host_key
    assert exc.value.fingerprint.startswith("SHA256:")
    assert "--accept-new-key" in exc.value.message


def test_accept_new_key_connects_and_offers_the_key_for_pinning(sshd):
    transport = make(sshd, host_key="", accept_new_key=True)
    with transport:
        assert transport.run(["true"]).ok
    assert transport.offered_host_key == sshd.host_key


def test_a_key_the_server_does_not_know_is_refused(sshd, tmp_path):
    with pytest.raises(AuthFailed) as exc:
        make(sshd, key_path=str(new_key(tmp_path))).connect()
    assert "authorized_keys" in exc.value.message


def test_a_passphrase_protected_key_is_explained(sshd, tmp_path):
    with pytest.raises(AuthFailed) as exc:
        make(sshd, key_path=str(new_key(tmp_path, passphrase="secret-words"))).connect()
    assert "passphrase" in exc.value.message


def test_a_closed_port_is_reported_unreachable(sshd):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    with pytest.raises(HostUnreachable) as exc:
        make(sshd, port=closed_port).connect()
    assert "refused the connection" in exc.value.message


def test_an_unknown_host_name_is_reported(sshd):
    with pytest.raises(HostUnreachable) as exc:
        make(sshd, hostname="no-such-host.invalid").connect()
    assert "cannot be resolved" in exc.value.message


def test_a_server_that_never_speaks_ssh_times_out(sshd):
    silent = socket.create_server(("127.0.0.1", 0))
    try:
        started = time.monotonic()
        with pytest.raises(TransportTimeout):
            make(sshd, port=silent.getsockname()[1], connect_timeout=1).connect()
        assert time.monotonic() - started < 5
    finally:
        silent.close()


def test_a_connection_dropped_mid_stream_is_reported_and_the_next_call_reconnects(sshd):
    proxy = Proxy(sshd.port)
    try:
        with make(sshd, port=proxy.port) as t:
            stream = t.stream(["sh", "-c", "echo started; sleep 30"])
            lines = iter(stream)
            assert next(lines) == "started"
            proxy.cut()
            with pytest.raises(ConnectionLost):
                next(lines)
            assert t.run(["echo", "back"]).stdout == "back\n"  # a fresh connection
    finally:
        proxy.close()


def test_a_file_operation_retries_once_on_a_connection_that_died_quietly(sshd, tmp_path):
    proxy = Proxy(sshd.port)
    (tmp_path / "f.txt").write_text("content")
    try:
        with make(sshd, port=proxy.port) as t:
            assert t.read_text(str(tmp_path / "f.txt")) == "content"
            proxy.cut()
            time.sleep(0.2)
            assert t.read_text(str(tmp_path / "f.txt")) == "content"
    finally:
        proxy.close()
