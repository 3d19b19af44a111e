"""Test fixtures for anything that talks to a GPU host (a pytest plugin: `pytest_plugins = ["gpu.testing"]`).

- `sshd` (session): a real OpenSSH server on 127.0.0.1 with a temporary host key and client key,
  whose sessions find the simulator's `docker` and `nvidia-smi` first on PATH. Skipped with the
  reason when /usr/sbin/sshd is missing (`make system-deps` installs openssh-server).
- `make_ssh_host(**fields)` / `make_local_host(**fields)`: create a simulated GPUHost reached
  through that sshd / the local transport, each with its own remote dir and a fast pace
  (FAST_SIM); `ssh_host` / `local_host` are one each; `sim_host` is parametrized over both.
  Containers a test leaves running are killed afterwards.
- `make_two_gpu_ssh_host(**fields)`: the same through a second sshd whose machine has two
  simulated GPUs (`COSMOS_SIM_GPUS=2`; a local host takes it from the test's environment).
- `silent` / `mute_host`: a TCP server that accepts connections and says nothing until told to
  hang up, and an SSH host at it: a host that does not answer, whose questions can be counted.
- Every test starts with no host answer remembered (gpu.live).

`start_sshd(folder)` is the same server for scripts (bench/transfer.py).
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

SSHD = "/usr/sbin/sshd"
# Fast enough for tests, slow enough that a job is observably running for a moment.
FAST_SIM = {"load_seconds": 0.1, "step_seconds": 0.01}


class SshdUnavailable(Exception):
    pass


@dataclass
class Sshd:
    host: str
    port: int
    user: str
    client_key: Path
    host_key: str  # "<type> <base64>", as GPUHost.host_key pins it
    folder: Path
    sim_state: Path
    process: subprocess.Popen

    def stop(self) -> None:
        self.process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5)
        if self.process.poll() is None:
            self.process.kill()

    def ssh_options(self) -> list[str]:
        """Options for OpenSSH's own ssh/scp to reach this server (benchmarks compare with them)."""
        known = self.folder / "known_hosts"
        known.write_text(f"[{self.host}]:{self.port} {self.host_key}\n")
        return ["-i", str(self.client_key), "-o", f"UserKnownHostsFile={known}", "-o", "StrictHostKeyChecking=yes",
                "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "cosmos-test", "-f", str(path)], check=True)


def start_sshd(folder: Path, *, sim_speed: str = "", sim_gpus: int = 0) -> Sshd:
    """Start sshd on a free loopback port; return once it accepts connections. `sim_gpus`: how
    many GPUs the simulator shows its sessions (default 1)."""
    if not os.path.exists(SSHD) or not shutil.which("ssh-keygen"):
        raise SshdUnavailable(f"{SSHD} (openssh-server) is not installed; run `make system-deps`.")
    from gpu.sim.install import ensure_installed

    folder.mkdir(parents=True, exist_ok=True)
    host_key, client_key = folder / "host_ed25519", folder / "client_ed25519"
    _keygen(host_key)
    _keygen(client_key)
    (folder / "authorized_keys").write_text(Path(f"{client_key}.pub").read_text())
    sim_bin = ensure_installed(folder / "sim")
    sim_state = folder / "sim-state"
    port = _free_port()
    home = folder / "home"  # an empty HOME: the account's own ~/.bashrc would slow every command
    home.mkdir(exist_ok=True)
    env = [f'"PATH={sim_bin}:/usr/local/bin:/usr/bin:/bin"', f'"COSMOS_SIM_STATE={sim_state}"', f'"HOME={home}"']
    if sim_speed:
        env.append(f'"COSMOS_SIM_SPEED={sim_speed}"')
    if sim_gpus:
        env.append(f'"COSMOS_SIM_GPUS={sim_gpus}"')
    config = folder / "sshd_config"
    config.write_text("\n".join([
        f"Port {port}",
        "ListenAddress 127.0.0.1",
        f"HostKey {host_key}",
        f"PidFile {folder / 'sshd.pid'}",
        f"AuthorizedKeysFile {folder / 'authorized_keys'}",
        "StrictModes no",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "PermitRootLogin prohibit-password",
        "MaxSessions 64",
        "MaxStartups 64",
        "Subsystem sftp internal-sftp",
        "LogLevel ERROR",
        f"SetEnv {' '.join(env)}",
        "",
    ]))
    if os.geteuid() == 0:
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # privilege separation folder
    log = open(folder / "sshd.log", "wb")
    process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SshdUnavailable(f"sshd exited at start: {(folder / 'sshd.log').read_text()[-500:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            break
        time.sleep(0.05)
    else:
        process.kill()
        raise SshdUnavailable("sshd did not start listening within 10 s")
    host_key_line = " ".join(Path(f"{host_key}.pub").read_text().split()[:2])
    return Sshd("127.0.0.1", port, getpass.getuser(), client_key, host_key_line, folder, sim_state, process)


def _sshd_serving(tmp_path_factory, name: str, **options):
    try:
        server = start_sshd(tmp_path_factory.mktemp(name), **options)
    except SshdUnavailable as exc:
        pytest.skip(str(exc))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sshd(tmp_path_factory):
    yield from _sshd_serving(tmp_path_factory, "sshd")


@pytest.fixture(scope="session")
def sshd_two_gpus(tmp_path_factory):
    yield from _sshd_serving(tmp_path_factory, "sshd-2gpu", sim_gpus=2)


def _kill_leftovers(state_dirs) -> None:
    """Kill what a test left running, straight through the simulator's state (no connection needed)."""
    from gpu.sim import containers

    for state in state_dirs:
        for container in containers.all_containers(Path(state)):
            with contextlib.suppress(RuntimeError, FileNotFoundError):  # ended meanwhile
                if container.running():
                    container.kill()


def _host_factory(tmp_path, prefix: str, defaults: dict):
    from gpu.models import GPUHost

    created = []

    def make(**fields):
        number = len(created) + 1
        remote_dir = tmp_path / f"{prefix}-remote-{number}"
        remote_dir.mkdir(parents=True, exist_ok=True)
        values = {"name": f"{prefix}-{number}", "remote_dir": str(remote_dir), "docker_cmd": "docker",
                  "simulated": True, "sim_config": dict(FAST_SIM), **defaults, **fields}
        host = GPUHost.objects.create(**values)
        created.append(host)
        return host

    return make, created


def _ssh_hosts(server: Sshd, tmp_path, prefix: str):
    make, created = _host_factory(tmp_path, prefix, {
        "transport": "ssh", "hostname": server.host, "port": server.port, "username": server.user,
        "key_path": str(server.client_key), "host_key": server.host_key,
    })
    yield make
    _kill_leftovers([server.sim_state])


@pytest.fixture(autouse=True)
def _no_remembered_host_answers():
    """What hosts said (gpu.live) is kept per process and would outlive a test's database, where
    the next test's host may get the same id: every test starts with no answer at hand."""
    from gpu import live

    live.forget()
    yield
    live.forget()


@pytest.fixture
def make_ssh_host(sshd, db, tmp_path):
    yield from _ssh_hosts(sshd, tmp_path, "ssh-sim")


@pytest.fixture
def make_two_gpu_ssh_host(sshd_two_gpus, db, tmp_path):
    yield from _ssh_hosts(sshd_two_gpus, tmp_path, "ssh-2gpu")


@pytest.fixture
def make_local_host(db, tmp_path):
    from gpu.sim.install import LOCAL_STATE_DIR

    make, created = _host_factory(tmp_path, "local-sim", {"transport": "local"})
    yield make
    _kill_leftovers([Path(host.remote_dir) / LOCAL_STATE_DIR for host in created])


@pytest.fixture
def ssh_host(make_ssh_host):
    return make_ssh_host()


@pytest.fixture
def local_host(make_local_host):
    return make_local_host()


@pytest.fixture(params=["ssh", "local"])
def sim_host(request, db):
    """A simulated host on each transport: the same test runs over SSH and locally."""
    # `db` is asked for here, not only through getfixturevalue: pytest-django must see it when it
    # sets up the test database for a test that reaches the database only through this fixture.
    return request.getfixturevalue(f"{request.param}_host")


class SilentServer:
    """Accepts every connection and says nothing, until `hang_up`: from then on it closes every
    connection, those it holds and each new one at once (the question's answer: an error)."""

    def __init__(self):
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen()
        self.port = self._socket.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._hung_up = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                connection = self._socket.accept()[0]
            except OSError:
                return
            self.accepted.append(connection)
            if self._hung_up:
                connection.close()

    def hang_up(self):
        self._hung_up = True
        for connection in self.accepted:
            connection.close()

    def close(self):
        self.hang_up()
        self._socket.close()


@pytest.fixture
def silent():
    server = SilentServer()
    yield server
    server.close()


@pytest.fixture
def mute_host(silent, db, tmp_path):
    """An SSH host at the `silent` server: it connects, and the host never says a word."""
    import paramiko

    from gpu.models import GPUHost

    key = tmp_path / "id_rsa"  # a real key: without one the transport gives up before connecting
    paramiko.RSAKey.generate(2048).write_private_key_file(str(key))
    return GPUHost.objects.create(name="mute", transport="ssh", hostname="127.0.0.1", port=silent.port,
                                  username="x", key_path=str(key), remote_dir="/tmp/mute")
