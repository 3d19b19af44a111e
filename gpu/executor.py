"""DockerExecutor: Cosmos jobs on one host, as detached containers, through a Transport.

The contract for the runs pipeline (it needs to know nothing of SSH or Docker):

    with executor_for(host) as ex:
        ex.job_prepare(job_id)                                   # folders + scripts on the host
        video = ex.cache_put(local_mp4, sha256)                 # -> "cache/<sha256>.mp4"
        ex.inference_start(job_id, nvidia.inference_spec(..., input_video=video, ...))
        for offset, line in ex.job_log_follow(job_id, offset=0):  # ends when the job ended
            ...                                                  # keep `offset` to re-attach later
        state = ex.job_state(job_id)                             # running / exit_code / exists
        if state.exit_code == 0:
            ex.job_download(job_id, local_dir)                   # verified copies of outputs/
        else:
            reason = ex.job_failure(job_id)                      # gpu.failures.FailureReason
        ex.job_remove(job_id)

Layout under the host's remote dir (mounted at /workspace in the container):
    cache/<sha256>.<ext>      content-addressed inputs, uploaded once, verified by hash
    jobs/<job_id>/            spec.json | batch.jsonl | enhance_input.json, outputs/,
                              job.log (all output), exit_code (written when the job ends)
    scripts/                  gpu/remote/*, uploaded when missing or changed (by hash)

A job runs in a detached container named `cosmos-<job_id>`, labelled `cosmos.job=<job_id>`; it
survives the connection and the worker, and a restarted worker re-attaches with
`job_log_follow(job_id, offset)`. `job_id` is chosen by the caller: 1-80 of [A-Za-z0-9_.-].
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import posixpath
import re
import shlex
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gpu.docker import DockerCommandBuilder
from gpu.errors import (
    ConnectionLost,
    DockerStartFailed,
    HostUnreachable,
    JobAlreadyRunning,
    JobIdInvalid,
    JobNotFound,
    RemoteCommandFailed,
    RemotePathNotFound,
    TransferFailed,
    TransportTimeout,
)
from gpu.failures import FailureReason, failure_reason
from gpu.models import DEFAULT_IMAGE, GPUHost
from gpu.sim.config import CONFIG_PATH as SIM_CONFIG_PATH
from gpu.transports import transport_for
from gpu.transports.base import CommandStream, ProgressCallback, Transport, decode_line, file_sha256, temp_name

REMOTE_SCRIPTS = Path(__file__).resolve().parent / "remote"
JOB_LABEL = "cosmos.job"
CONTAINER_PREFIX = "cosmos-"
_JOB_ID = re.compile(r"[A-Za-z0-9_.-]{1,80}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
# How often job_log_follow re-attaches after a dropped connection before giving up, and the
# silence after which a connection is presumed dead (follow_log.py beats every 5 s).
FOLLOW_RETRIES = 5
FOLLOW_IDLE_TIMEOUT = 30.0
GPU_QUERY = "index,name,memory.total,memory.used,utilization.gpu,temperature.gpu,driver_version"


def job_id_check(job_id: str) -> str:
    if not isinstance(job_id, str) or not _JOB_ID.fullmatch(job_id) or set(job_id) <= {"."}:
        raise JobIdInvalid(f"Invalid job id {job_id!r}: use 1-80 letters, digits, '_', '.' or '-'.", field="job_id")
    return job_id


@dataclass(frozen=True)
class JobPaths:
    """A job's files, relative to the host's remote dir (= the container's /workspace)."""

    root: str
    spec: str
    batch: str
    enhance_input: str
    outputs: str
    log: str
    exit_code: str

    @classmethod
    def of(cls, job_id: str) -> JobPaths:
        root = f"jobs/{job_id_check(job_id)}"
        return cls(root, f"{root}/spec.json", f"{root}/batch.jsonl", f"{root}/enhance_input.json",
                   f"{root}/outputs", f"{root}/job.log", f"{root}/exit_code")


@dataclass(frozen=True)
class JobState:
    """`exists`: the host knows the job (a container, or the completion marker). `exit_code` is set
    once the job ended (137 when killed, 125 when docker could not start it)."""

    running: bool
    exit_code: int | None
    exists: bool

    @property
    def ended(self) -> bool:
        return not self.running and self.exit_code is not None


@dataclass(frozen=True)
class ContainerInfo:
    id: str
    name: str
    image: str
    status: str  # docker's words: "Up 5 minutes", "Exited (0) 3 seconds ago"
    state: str  # "running", "exited", "created"
    created: str
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def job_id(self) -> str | None:
        return self.labels.get(JOB_LABEL)

    @property
    def running(self) -> bool:
        return self.state == "running"


@dataclass(frozen=True)
class GPUInfo:
    index: int
    name: str
    memory_total_mb: int | None
    memory_used_mb: int | None
    utilization_pct: int | None
    temperature_c: int | None
    driver_version: str
    cuda_version: str

    @property
    def simulated(self) -> bool:
        return "cosmos-sim" in self.name


@dataclass(frozen=True)
class DiskUsage:
    path: str
    total_bytes: int
    used_bytes: int
    free_bytes: int


def _int_or_none(value: str) -> int | None:
    try:
        return int(float(value))
    except ValueError:
        return None  # "[N/A]", "[Not Supported]"


def _labels(text: str) -> dict[str, str]:
    labels = {}
    for item in filter(None, text.split(",")):
        key, _, value = item.partition("=")
        labels[key] = value
    return labels


class DockerExecutor:
    def __init__(
        self,
        transport: Transport,
        *,
        remote_dir: str,
        docker_cmd: str = "sudo docker",
        image: str = DEFAULT_IMAGE,
        sim_config: Mapping[str, Any] | None = None,
        shm_size: str = "8g",
    ):
        """`sim_config` is given for a simulated host: it is written where the simulator reads it."""
        self.transport = transport
        self.remote_dir = remote_dir.rstrip("/") or "/"
        self.image = image
        self.docker = DockerCommandBuilder(docker_cmd)
        self.sim_config = dict(sim_config) if sim_config is not None else None
        self.shm_size = shm_size
        self._scripts_synced = False

    @classmethod
    def for_host(cls, host: GPUHost, transport: Transport) -> DockerExecutor:
        return cls(transport, remote_dir=host.remote_dir, docker_cmd=host.docker_cmd, image=host.image,
                   sim_config=host.sim_config if host.simulated else None, shm_size=host.shm_size)

    # --- paths -------------------------------------------------------------------------------

    def remote(self, relative: str) -> str:
        """The host path of a path relative to the remote dir."""
        return posixpath.join(self.remote_dir, relative)

    @staticmethod
    def job_paths(job_id: str) -> JobPaths:
        return JobPaths.of(job_id)

    @staticmethod
    def container_name(job_id: str) -> str:
        return CONTAINER_PREFIX + job_id_check(job_id)

    @staticmethod
    def cache_path(sha256: str, ext: str) -> str:
        if not _SHA256.fullmatch(sha256):
            raise ValueError(f"not a sha256 hex digest: {sha256!r}")
        ext = ext.lstrip(".").lower()
        if not re.fullmatch(r"[a-z0-9]{1,10}", ext):
            raise ValueError(f"invalid file extension {ext!r}")
        return f"cache/{sha256}.{ext}"

    # --- set-up ------------------------------------------------------------------------------

    def scripts_sync(self) -> list[str]:
        """Upload the remote scripts that are missing or differ (by sha256); return their names.

        For a simulated host, also write the simulator's config (pace, failures) when it changed.
        Done once per executor.
        """
        if self._scripts_synced:
            return []
        local = {p.name: p for p in sorted(REMOTE_SCRIPTS.iterdir()) if p.is_file() and not p.name.startswith(".")}
        wanted = {name: hashlib.sha256(path.read_bytes()).hexdigest() for name, path in local.items()}
        result = self.transport.run(["sha256sum", "--", *(self.remote(f"scripts/{n}") for n in local)])
        present = {}
        for line in result.stdout.splitlines():
            digest, _, path = line.partition("  ")
            present[posixpath.basename(path)] = digest
        changed = [name for name, digest in wanted.items() if present.get(name) != digest]
        if changed:
            self.transport.run(["mkdir", "-p", "--", self.remote("scripts")]).check("Creating the scripts folder")
            for name in changed:
                self.transport.write_text(self.remote(f"scripts/{name}"), local[name].read_text())
        if self.sim_config is not None:
            self._sim_config_write()
        self._scripts_synced = True
        return changed

    def _sim_config_write(self) -> None:
        path = self.remote(SIM_CONFIG_PATH)
        text = json.dumps(self.sim_config, indent=2, sort_keys=True) + "\n"
        with contextlib.suppress(RemotePathNotFound):
            if self.transport.read_text(path) == text:
                return
        self.transport.mkdir_p(posixpath.dirname(path))
        self.transport.write_text(path, text)

    def job_prepare(self, job_id: str) -> JobPaths:
        """Create the job's folder and the cache folder, and make sure the scripts are current."""
        paths = self.job_paths(job_id)
        self.transport.run(["mkdir", "-p", "--", self.remote(paths.outputs), self.remote("cache")]).check(
            f"Creating the folders of job {job_id}"
        )
        self.scripts_sync()
        return paths

    def cache_put(self, local_path: str | Path, sha256: str, *, on_progress: ProgressCallback | None = None) -> str:
        """Put a file into the host's content-addressed cache; return its path relative to the remote dir.

        Skipped when the file is already there with the right size (it only ever gets there
        after its hash was verified). A new upload is checked against `sha256` before it takes
        the cache name; a mismatch raises TransferFailed and leaves nothing behind.
        """
        local_path = Path(local_path)
        relative = self.cache_path(sha256, local_path.suffix or ".bin")
        target = self.remote(relative)
        size = local_path.stat().st_size
        with contextlib.suppress(RemotePathNotFound):
            if self.transport.stat(target).size == size:
                return relative
        self.transport.mkdir_p(self.remote("cache"))
        staging = temp_name(target)  # unique: two jobs may bring the same input to a host at once
        self.transport.put(local_path, staging, on_progress=on_progress)
        remote_hash = self.transport.sha256(staging)
        if remote_hash != sha256:
            self.transport.remove(staging)
            raise TransferFailed(
                f"The upload of {local_path.name} arrived with sha256 {remote_hash[:12]}…, expected {sha256[:12]}… "
                "(the local file changed, or the transfer was corrupted). Nothing was kept; try again."
            )
        self.transport.run(["mv", "-f", "--", staging, target]).check(f"Moving {local_path.name} into the cache")
        return relative

    # --- starting jobs -----------------------------------------------------------------------

    def inference_start(self, job_id: str, spec: Mapping[str, Any], *, gpus: Sequence[int] | None = None) -> str:
        """Start one inference (spec from `nvidia.inference_spec`); return the container id."""
        return self._start(job_id, "inference.sh", {"spec": json.dumps(spec, indent=2)}, gpus)

    def batch_start(self, job_id: str, base_spec: Mapping[str, Any], lines: str | Sequence[Mapping[str, Any]],
                    *, gpus: Sequence[int] | None = None) -> str:
        """Start a batch (base spec from `nvidia.batch_base_spec`, JSONL from `nvidia.batch_jsonl`)."""
        jsonl = lines if isinstance(lines, str) else "".join(json.dumps(line) + "\n" for line in lines)
        return self._start(job_id, "batch_inference.sh", {"spec": json.dumps(base_spec, indent=2), "batch": jsonl}, gpus)

    def upscale_start(self, job_id: str, spec: Mapping[str, Any], *, gpus: Sequence[int] | None = None) -> str:
        """Start the 4K upscaler (spec from `nvidia.upscale_spec`)."""
        return self._start(job_id, "upscale.sh", {"spec": json.dumps(spec, indent=2)}, gpus)

    def enhance_start(self, job_id: str, items: Sequence[Mapping[str, str]], *, gpus: Sequence[int] | None = None) -> str:
        """Start prompt enhancement (items from `nvidia.enhance_input`); results in outputs/batch_results.json."""
        return self._start(job_id, "enhance.sh", {"enhance_input": json.dumps(list(items), indent=2)}, gpus)

    def _gpu_options(self, gpus: Sequence[int] | None) -> tuple[str, dict[str, str]]:
        if not gpus:
            return "all", {"NUM_GPU": "1", "CUDA_VISIBLE_DEVICES": "0"}
        ids = [int(g) for g in gpus]
        # The container sees only the chosen devices, numbered from 0.
        visible = ",".join(str(i) for i in range(len(ids)))
        return f'"device={",".join(map(str, ids))}"', {"NUM_GPU": str(len(ids)), "CUDA_VISIBLE_DEVICES": visible}

    def _start(self, job_id: str, script: str, files: Mapping[str, str], gpus: Sequence[int] | None) -> str:
        paths = self.job_prepare(job_id)
        name = self.container_name(job_id)
        state = self.job_state(job_id)
        if state.running:
            raise JobAlreadyRunning(f"Job {job_id} is already running on {self.transport.label}.")
        if state.exists:
            # A finished container of an earlier attempt holds the name; its files stay in jobs/.
            self.transport.run(self.docker.rm([name], force=True))
        for key, text in files.items():
            self.transport.write_text(self.remote(getattr(paths, key)), text)
        self.transport.remove(self.remote(paths.exit_code))
        gpus_arg, env = self._gpu_options(gpus)
        argv = self.docker.run(
            image=self.image,
            name=name,
            labels={JOB_LABEL: job_id},
            gpus=gpus_arg,
            ipc="host",
            shm_size=self.shm_size,
            volumes=[(self.remote_dir, "/workspace"),
                     (posixpath.join(self.transport.home_dir(), ".cache/huggingface"), "/root/.cache/huggingface")],
            env=env,
            workdir="/workspace",
            command=["bash", "-lc", shlex.join(["bash", f"scripts/{script}", paths.root])],
        )
        result = self.transport.run(argv, timeout=300)
        if result.exit_code != 0:
            self._record_start_failure(paths, result.exit_code, result.stderr or result.stdout)
            first = next((line for line in (result.stderr or result.stdout).splitlines() if line.strip()), "no output")
            raise DockerStartFailed(
                f"Docker could not start job {job_id} on {self.transport.label} (exit {result.exit_code}): {first}",
                exit_code=result.exit_code,
                stderr=result.stderr,
            )
        return result.stdout.strip()

    def _record_start_failure(self, paths: JobPaths, code: int, text: str) -> None:
        """Leave the same traces as a failed job: docker's words in job.log, and the exit code marker."""
        log = self.remote(paths.log)
        try:
            before = self.transport.read_text(log)
        except RemotePathNotFound:
            before = ""
        self.transport.write_text(log, f"{before}[cosmos] docker could not start the container (exit {code}):\n{text}")
        self.transport.write_text(self.remote(paths.exit_code), f"{code}\n")

    # --- following jobs ----------------------------------------------------------------------

    def job_state(self, job_id: str) -> JobState:
        name = self.container_name(job_id)
        result = self._query(self.docker.inspect(name, format="{{json .State}}"))
        if result.ok:
            state = json.loads(result.stdout.strip().splitlines()[0])
            if state.get("Running"):
                return JobState(True, None, True)
            if state.get("Status") == "created":
                # Created but never started: docker failed to start it (exit 125), or it is starting.
                return JobState(False, 125 if state.get("Error") else None, True)
            return JobState(False, int(state.get("ExitCode", 0)), True)
        if "No such" not in result.stderr:
            result.check(f"docker inspect {name}")
        try:
            marker = self.transport.read_text(self.remote(self.job_paths(job_id).exit_code))
        except RemotePathNotFound:
            return JobState(False, None, False)
        return JobState(False, int(marker.strip() or 1), True)

    def job_log_follow(self, job_id: str, offset: int = 0) -> Iterator[tuple[int, str]]:
        """Yield (offset after the line, line) from the job's log, from byte `offset`, as lines are
        written; end once the job has ended and the log is drained.

        A line is handed over only when complete (a last line without a newline, once the job
        ended). A dropped connection is re-attached from the last offset (FOLLOW_RETRIES times,
        with a growing pause) before ConnectionLost is raised; keep the last offset to resume
        later with another executor. A job that never started ends the iteration at once.
        """
        paths = self.job_paths(job_id)
        self.scripts_sync()
        failures = 0
        while True:
            command = ["python3", self.remote("scripts/follow_log.py"), self.remote(paths.root), str(offset),
                       self.container_name(job_id), *self.docker.prefix]
            try:
                stream = self.transport.stream(command, merge_stderr=False, idle_timeout=FOLLOW_IDLE_TIMEOUT)
                with stream:
                    for raw in stream.raw_lines():
                        offset += len(raw)
                        failures = 0
                        yield offset, decode_line(raw)
            except (ConnectionLost, TransportTimeout, HostUnreachable):
                failures += 1
                if failures > FOLLOW_RETRIES:
                    raise
                time.sleep(min(2 ** failures, 30))
                continue
            if stream.exit_code == 3:
                raise JobNotFound(f"Job {job_id} has no folder on {self.transport.label}.")
            if stream.exit_code != 0:
                raise RemoteCommandFailed(
                    f"Following the log of job {job_id} failed (exit {stream.exit_code}): "
                    f"{stream.stderr.replace(chr(0), '').strip()[-300:]}",
                    exit_code=stream.exit_code, stderr=stream.stderr,
                )
            return

    def job_log_tail(self, job_id: str, max_bytes: int = 16384) -> str:
        """The end of the job's log ("" when there is none)."""
        result = self._query(["tail", "-c", str(int(max_bytes)), self.remote(self.job_paths(job_id).log)])
        return result.stdout if result.ok else ""

    def job_failure(self, job_id: str) -> FailureReason | None:
        """Why the job failed (see gpu.failures), or None when it succeeded or has not ended."""
        state = self.job_state(job_id)
        if not state.ended:
            return None
        return failure_reason(state.exit_code, self.job_log_tail(job_id))

    def job_wait(self, job_id: str, *, timeout: float | None = None, poll: float = 1.0) -> int:
        """Wait for the job to end; return its exit code. JobNotFound if it never started."""
        deadline = time.monotonic() + timeout if timeout is not None else None
        delay = min(poll, 0.2)
        while True:
            state = self.job_state(job_id)
            if not state.exists:
                raise JobNotFound(f"Job {job_id} is not on {self.transport.label} (never started, or removed).")
            if state.ended:
                return state.exit_code
            if deadline is not None and time.monotonic() >= deadline:
                raise TransportTimeout(f"Job {job_id} was still running after {timeout:g} s.")
            time.sleep(delay)
            delay = min(delay * 2, max(poll, 0.2))

    def job_await_end(self, job_id: str, *, seconds: float) -> int | None:
        """Block until the job's running container ends (`docker wait`: woken by the daemon, no
        polling here) or `seconds` pass; the exit code, or None while it still runs.
        JobNotFound when its container is not running yet (none, or created but not started:
        `docker wait` would answer at once for those) and has not ended either."""
        state = self.job_state(job_id)
        if state.ended:
            return state.exit_code
        if not state.running:
            raise JobNotFound(f"Job {job_id} has no running container on {self.transport.label}.")
        wait = ["timeout", f"{seconds:g}", *self.docker.wait(self.container_name(job_id))]
        result = self.transport.run(wait, timeout=seconds + 30)
        if result.exit_code == 124:  # timeout(1) stopped the wait: the container still runs
            return None
        if "No such container" in result.stderr:  # it ended and was removed since we looked
            raise JobNotFound(f"Job {job_id} has no container on {self.transport.label} any more.")
        result.check(f"docker wait {self.container_name(job_id)}")
        return int(result.stdout.split()[0])

    def container_lives(self, *, since: float, until: float) -> dict[str, dict[str, float]]:
        """When each container started and died between two unix times (the host's clock), by
        name, from the daemon's events: they outlive the container, and say when it really ran,
        not when someone looked. {"cosmos-x": {"start": t, "die": t}}"""
        argv = self.docker.events(since=since, until=until, events=["start", "die"], format="{{json .}}")
        lives: dict[str, dict[str, float]] = {}
        for line in self._query(argv).check("docker events").stdout.splitlines():
            event = json.loads(line)
            lives.setdefault(event["Actor"]["Attributes"]["name"], {})[event["Action"]] = event["timeNano"] / 1e9
        return lives

    def job_kill(self, job_id: str) -> bool:
        """Kill the job's container (SIGKILL; it ends with 137). False if it was not running."""
        result = self.transport.run(self.docker.kill([self.container_name(job_id)]))
        if result.ok:
            return True
        if "is not running" in result.stderr or "No such container" in result.stderr:
            return False
        result.check(f"Killing job {job_id}")
        return False

    def job_outputs(self, job_id: str) -> list[str]:
        """The job's output files, relative to its outputs/ folder (hidden work files left out)."""
        files = self.transport.list_files(self.remote(self.job_paths(job_id).outputs))
        return [name for name in files if not any(part.startswith(".") for part in name.split("/"))]

    def job_download(self, job_id: str, local_dir: str | Path, *, on_progress: ProgressCallback | None = None) -> list[Path]:
        """Copy the job's outputs into `local_dir` (same relative paths); each copy is atomic and
        checked against the host's sha256. Returns the local paths."""
        outputs = self.remote(self.job_paths(job_id).outputs)
        names = self.job_outputs(job_id)
        if not names:
            return []
        hashes = {}
        result = self.transport.run(["sha256sum", "--", *(posixpath.join(outputs, n) for n in names)], timeout=600)
        result.check(f"Hashing the outputs of job {job_id}")
        for line in result.stdout.splitlines():
            digest, _, path = line.partition("  ")
            hashes[posixpath.relpath(path, outputs)] = digest
        local_dir = Path(local_dir)
        copied = []
        for name in names:
            target = local_dir / name
            self.transport.get(posixpath.join(outputs, name), target, on_progress=on_progress)
            if file_sha256(target) != hashes.get(name):
                target.unlink(missing_ok=True)
                raise TransferFailed(f"{name} of job {job_id} arrived with a different sha256 than on the host; "
                                     "it was not kept. Download it again.")
            copied.append(target)
        return copied

    def job_remove(self, job_id: str, *, force: bool = False) -> None:
        """Remove the job's container and folder from the host (kill it first with `force`)."""
        paths = self.job_paths(job_id)
        if not force and self.job_state(job_id).running:
            raise JobAlreadyRunning(f"Job {job_id} is still running; kill it first (or remove with force).")
        self.transport.run(self.docker.rm([self.container_name(job_id)], force=True))
        try:
            self.transport.remove(self.remote(paths.root), recursive=True)
        except RemoteCommandFailed:
            # Files a killed container wrote as root: delete them from inside a container.
            self.transport.run(self.docker.run(
                image=self.image, detach=False, remove=True, volumes=[(self.remote_dir, "/workspace")],
                workdir="/workspace", command=["rm", "-rf", "--", paths.root],
            ), timeout=300).check(f"Removing the files of job {job_id}")

    def container_log_stream(self, container: str, *, follow: bool = True, tail: int | None = None) -> CommandStream:
        """`docker logs` of any container, as a stream of lines (the seed's stream_container_logs)."""
        return self.transport.stream(self.docker.logs(container, follow=follow, tail=tail))

    # --- the host ----------------------------------------------------------------------------

    def _query(self, argv: Sequence[str], *, timeout: float = 60) -> Any:
        """Run a command that changes nothing; a dead connection is retried once on a fresh one."""
        try:
            return self.transport.run(argv, timeout=timeout)
        except ConnectionLost:
            return self.transport.run(argv, timeout=timeout)

    def _ps(self, filters: Sequence[tuple[str, str]], *, all: bool) -> list[ContainerInfo]:
        result = self._query(self.docker.ps(all=all, filters=filters, format="{{json .}}"))
        result.check("docker ps")
        found = []
        for line in result.stdout.splitlines():
            if line.strip():
                row = json.loads(line)
                found.append(ContainerInfo(id=row["ID"], name=row["Names"], image=row["Image"], status=row["Status"],
                                           state=row.get("State", ""), created=row.get("CreatedAt", ""),
                                           labels=_labels(row.get("Labels", ""))))
        return found

    def containers(self, *, all: bool = False) -> list[ContainerInfo]:
        """Cosmos containers on the host: ours (by label) and any other of the Cosmos image."""
        found = {c.id: c for c in self._ps([("label", JOB_LABEL)], all=all)}
        for container in self._ps([("ancestor", self.image)], all=all):
            found.setdefault(container.id, container)
        return sorted(found.values(), key=lambda c: c.created, reverse=True)

    def kill_all(self) -> list[str]:
        """Kill every running Cosmos container; return the names killed."""
        names = [c.name for c in self.containers()]
        if not names:
            return []
        result = self.transport.run(self.docker.kill(names))
        killed = [line.strip() for line in result.stdout.splitlines() if line.strip()]
        if not result.ok and not killed:
            result.check("docker kill")
        return killed

    def gpu_info(self) -> list[GPUInfo]:
        """The host's GPUs from nvidia-smi ([] when nvidia-smi is not installed)."""
        result = self._query(["nvidia-smi", f"--query-gpu={GPU_QUERY}", "--format=csv,noheader,nounits"])
        if result.exit_code == 127:
            return []
        result.check("nvidia-smi")
        banner = self._query(["nvidia-smi"])
        cuda = re.search(r"CUDA Version:\s*([\d.]+)", banner.stdout)
        gpus = []
        for row in csv.reader(io.StringIO(result.stdout)):
            if len(row) < 7:
                continue
            index, name, total, used, util, temp, driver = (value.strip() for value in row[:7])
            gpus.append(GPUInfo(int(index), name, _int_or_none(total), _int_or_none(used), _int_or_none(util),
                                _int_or_none(temp), driver, cuda.group(1) if cuda else ""))
        return gpus

    def disk_free(self) -> DiskUsage:
        """Space on the file system of the remote dir."""
        result = self._query(["df", "-Pk", self.remote_dir])
        result.check(f"df {self.remote_dir}")
        fields = result.stdout.strip().splitlines()[-1].split()
        total, used, free = (int(v) * 1024 for v in fields[1:4])
        return DiskUsage(self.remote_dir, total, used, free)

    def docker_info(self) -> dict[str, Any]:
        result = self._query(self.docker.info(format="{{json .}}"))
        result.check("docker info")
        return json.loads(result.stdout)

    def images(self) -> list[dict[str, Any]]:
        result = self._query(self.docker.images(format="{{json .}}"))
        result.check("docker images")
        return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


@contextlib.contextmanager
def executor_for(host: GPUHost, *, accept_new_key: bool = False) -> Iterator[DockerExecutor]:
    """A connected executor for the host; the connection closes when the block ends."""
    with transport_for(host, accept_new_key=accept_new_key) as transport:
        yield DockerExecutor.for_host(host, transport)
