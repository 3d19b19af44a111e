"""Simulated containers: one folder each, one detached process group each.

State lives in `$COSMOS_SIM_STATE` (default `~/.cache/cosmos-sim`): one simulated machine's
Docker daemon. `containers/<id>/` holds `config.json` (name, image, labels, command, work dir,
env), `state.json` (docker's `.State`), `log` (the merged output) and `log.idx` (when each chunk
of the log arrived, for `logs --since/--timestamps`). `names/<name>` reserves a name atomically.

A container is started by forking a supervisor (its own session, stdio on /dev/null, so it
outlives the `docker run` call and an SSH channel) which starts the command in a new process
group, pumps its output into the log and records the exit code. `kill` sends SIGKILL to the
command's group, which the supervisor records as exit 137, as Docker does.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path


def state_root() -> Path:
    root = os.environ.get("COSMOS_SIM_STATE") or os.path.join(os.path.expanduser("~"), ".cache", "cosmos-sim")
    return Path(root)


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


def parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


class NoSuchContainer(Exception):
    pass


class NameInUse(Exception):
    pass


@dataclass
class Container:
    folder: Path

    @property
    def config(self) -> dict:
        return json.loads((self.folder / "config.json").read_text())

    @property
    def id(self) -> str:
        return self.folder.name

    @property
    def name(self) -> str:
        return self.config["Name"]

    @property
    def log_path(self) -> Path:
        return self.folder / "log"

    def state(self) -> dict:
        state = self._read_state()
        # A supervisor that vanished (machine restart, killed by hand) cannot record the exit. It
        # may also have recorded it and exited between our read and the check: it writes before it
        # dies, so a second read after seeing it dead is conclusive (without it, a job that ended
        # with 1 was seen once as killed, 137).
        if state.get("Running") and not _alive(state.get("SupervisorPid")):
            state = self._read_state()
            if state.get("Running"):
                state = self._record_exit(state, 137, "supervisor gone")
        return state

    def _read_state(self) -> dict:
        return json.loads((self.folder / "state.json").read_text())

    def _record_exit(self, state: dict, code: int, error: str = "") -> dict:
        state = {**state, "Status": "exited", "Running": False, "Pid": 0, "ExitCode": code,
                 "Error": error, "FinishedAt": now_iso()}
        _write_json(self.folder / "state.json", state)
        event_record(self, "die", exitCode=str(code))
        return state

    def running(self) -> bool:
        return bool(self.state().get("Running"))

    def kill(self, *, wait: float = 5.0) -> None:
        """SIGKILL the command's process group, as `docker kill` does; RuntimeError if not running."""
        state = self.state()
        if not state.get("Running"):
            raise RuntimeError("not running")
        try:
            os.killpg(state["Pid"], signal.SIGKILL)
        except ProcessLookupError:
            pass
        # Docker answers once the container is dead; the supervisor records it within moments.
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and self.running():
            time.sleep(0.01)

    def wait(self, poll: float = 0.05) -> int:
        while True:
            state = self.state()
            if not state.get("Running"):
                return int(state.get("ExitCode", 0))
            time.sleep(poll)

    def remove(self) -> None:
        name = self.name
        # state.json first: listings only count folders that have one, so a container being removed
        # vanishes from every concurrent `docker ps/inspect` at once instead of half-existing.
        (self.folder / "state.json").unlink()
        for child in sorted(self.folder.glob("*")):
            child.unlink()
        self.folder.rmdir()
        try:
            (self.folder.parent.parent / "names" / name).rmdir()
        except FileNotFoundError:
            pass


def event_record(container: Container, action: str, **attributes: str) -> None:
    """Append one event in the shape of `docker events --format '{{json .}}'`."""
    try:
        config = container.config
    except FileNotFoundError:  # removed meanwhile (docker rm -f racing a death): no actor to name
        return
    nanos = time.time_ns()
    actor = {"ID": container.id, "Attributes": {**(config.get("Labels") or {}), "image": config["Image"],
                                                 "name": config["Name"], **attributes}}
    line = json.dumps({"status": action, "id": container.id, "from": config["Image"], "Type": "container",
                       "Action": action, "Actor": actor, "scope": "local", "time": nanos // 10**9,
                       "timeNano": nanos}) + "\n"
    # One write in append mode: lines from concurrent containers never interleave.
    fd = os.open(state_root() / "events.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def events_read() -> list[dict]:
    """Every recorded event, in the order they happened."""
    try:
        lines = (state_root() / "events.jsonl").read_text().splitlines()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in lines if line.strip()]


def _alive(pid) -> bool:
    if not pid:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is dead for our purpose; reap it if it is our child (it is not, normally).
    try:
        with open(f"/proc/{int(pid)}/stat") as handle:
            return handle.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def all_containers(root: Path | None = None) -> list[Container]:
    folder = (root or state_root()) / "containers"
    if not folder.is_dir():
        return []
    found = []
    for child in folder.iterdir():
        if not (child / "state.json").exists():
            continue
        container = Container(child)
        try:  # another process may be removing this container right now
            found.append((container.config.get("Created", ""), container))
        except FileNotFoundError:
            continue
    return [container for _, container in sorted(found, key=lambda pair: pair[0], reverse=True)]


def find(ref: str) -> Container:
    """A container by name (with or without the leading "/"), full id or unique id prefix."""
    ref = ref.lstrip("/")
    candidates = all_containers()
    for container in candidates:
        try:
            name = container.name
        except FileNotFoundError:  # removed since it was listed
            continue
        if name == ref or container.id == ref:
            return container
    matches = [c for c in candidates if len(ref) >= 3 and c.id.startswith(ref)]
    if len(matches) == 1:
        return matches[0]
    raise NoSuchContainer(ref)


def create(*, name: str, image: str, labels: dict, argv: list[str], cwd: str, env: dict) -> Container:
    root = state_root()
    (root / "names").mkdir(parents=True, exist_ok=True)
    (root / "containers").mkdir(parents=True, exist_ok=True)
    container_id = secrets.token_hex(32)
    name = name or f"sim_{container_id[:8]}"
    try:
        (root / "names" / name).mkdir()
    except FileExistsError:
        raise NameInUse(name) from None
    folder = root / "containers" / container_id
    folder.mkdir()
    config = {"Id": container_id, "Name": name, "Image": image, "Labels": labels, "Cmd": argv,
              "WorkingDir": cwd, "Env": env, "Created": now_iso()}
    _write_json(folder / "config.json", config)
    _write_json(folder / "state.json", {"Status": "created", "Running": False, "Paused": False,
                                          "Restarting": False, "OOMKilled": False, "Dead": False,
                                          "Pid": 0, "ExitCode": 0, "Error": "",
                                          "StartedAt": "0001-01-01T00:00:00Z",
                                          "FinishedAt": "0001-01-01T00:00:00Z"})
    return Container(folder)


def start(container: Container) -> None:
    """Fork a supervisor for the container's command; return once the command is running."""
    ready_read, ready_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the supervisor
        try:
            os.close(ready_read)
            os.setsid()
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
            _supervise(container, ready_write)
        finally:
            os._exit(0)
    os.close(ready_write)
    with os.fdopen(ready_read, "rb") as ready:
        ready.read()  # closed by the supervisor once the state says "running" (or the start failed)


def _supervise(container: Container, ready_fd: int) -> None:
    config = container.config
    state = container.state()
    log = open(container.log_path, "ab", buffering=0)
    index = open(container.folder / "log.idx", "a", buffering=1)
    try:
        process = subprocess.Popen(
            config["Cmd"], cwd=config["WorkingDir"], env=config["Env"], stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
        )
    except OSError as exc:
        log.write(f"exec: {exc}\n".encode())
        container._record_exit({**state, "StartedAt": now_iso()}, 127, str(exc))
        os.close(ready_fd)
        return
    _write_json(container.folder / "state.json", {**state, "Status": "running", "Running": True,
                                                    "Pid": process.pid, "SupervisorPid": os.getpid(),
                                                    "StartedAt": now_iso()})
    event_record(container, "start")
    os.close(ready_fd)
    offset = 0
    while chunk := os.read(process.stdout.fileno(), 65536):
        index.write(f"{time.time():.6f} {offset}\n")
        log.write(chunk)
        offset += len(chunk)
    code = process.wait()
    container._record_exit(container.state(), 128 - code if code < 0 else code)
