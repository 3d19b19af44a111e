"""The host check: connect, verify or pin the host key, then look at everything a job needs.

`host_check_run(host, accept_new_key=False) -> HostReport` never raises for a host problem: each
finding is a `CheckItem` (ok / warn / fail) with a sentence that says what to do. The report
holds the GPUs, the disk and the Cosmos containers it saw; `as_dict()` is what is stored on the
host and printed as JSON.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from gpu.errors import ConnectionLost, GPUError, TransportError
from gpu.executor import ContainerInfo, DiskUsage, DockerExecutor, GPUInfo
from gpu.models import GPUHost, Transport as TransportKind
from gpu.transports import transport_for

DISK_WARN_BYTES = 50 * 1024**3  # outputs, cache and logs of a day's runs


@dataclass
class CheckItem:
    name: str
    status: str  # "ok" | "warn" | "fail"
    detail: str


@dataclass
class HostReport:
    host: str
    address: str
    simulated: bool
    items: list[CheckItem] = field(default_factory=list)
    gpus: list[GPUInfo] = field(default_factory=list)
    disk: DiskUsage | None = None
    containers: list[ContainerInfo] = field(default_factory=list)
    pinned_key: str = ""  # a key pinned by this check ("<type> <base64>")
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(item.status != "fail" for item in self.items)

    @property
    def summary(self) -> str:
        failed = [i.name for i in self.items if i.status == "fail"]
        warned = [i.name for i in self.items if i.status == "warn"]
        if failed:
            return f"failed: {', '.join(failed)}"
        gpus = f"{len(self.gpus)} GPU{'s' if len(self.gpus) != 1 else ''}" + (" (simulated)" if self.simulated else "")
        return f"ready, {gpus}" + (f"; warnings: {', '.join(warned)}" if warned else "")

    def add(self, name: str, status: str, detail: str) -> None:
        self.items.append(CheckItem(name, status, detail))

    def as_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "address": self.address,
            "simulated": self.simulated,
            "ok": self.ok,
            "summary": self.summary,
            "items": [asdict(i) for i in self.items],
            "gpus": [{**asdict(g), "simulated": g.simulated} for g in self.gpus],
            "disk": asdict(self.disk) if self.disk else None,
            "containers": [{**asdict(c), "job_id": c.job_id} for c in self.containers],
            "key_pinned": bool(self.pinned_key),
            "seconds": round(self.seconds, 2),
        }


def _gib(n: int) -> str:
    return f"{n / 1024**3:,.0f} GiB"


def _connect(host: GPUHost, transport, report: HostReport) -> bool:
    try:
        transport.connect()
    except TransportError as exc:
        report.add("connection", "fail", exc.message)
        return False
    if host.transport == TransportKind.LOCAL:
        report.add("connection", "ok", "this machine" + (" (simulated GPU host)" if host.simulated else ""))
        return True
    offered = getattr(transport, "offered_host_key", "")
    if offered:
        from gpu.transports.ssh import parse_key_line

        report.pinned_key = offered
        report.add("host key", "ok", f"pinned the new key {parse_key_line(offered).fingerprint}")
    else:
        report.add("host key", "ok", "matches the pinned key")
    report.add("connection", "ok", f"logged in as {host.username}")
    return True


def _steps(host: GPUHost, executor: DockerExecutor, report: HostReport):
    """(name, function) pairs; each function adds its finding to the report."""

    def remote_dir():
        probe = executor.remote(".cosmos-write-test")
        executor.transport.mkdir_p(executor.remote_dir)
        executor.transport.write_text(probe, "ok\n")
        executor.transport.remove(probe)
        report.add("remote dir", "ok", f"{executor.remote_dir} is writable")

    def python():
        result = executor.transport.run(["python3", "--version"])
        if result.ok:
            report.add("python3", "ok", (result.stdout or result.stderr).strip())
        else:
            report.add("python3", "fail", "python3 is missing on the host; it is needed to follow job logs "
                                          "(`sudo apt-get install -y python3`).")

    def scripts():
        changed = executor.scripts_sync()
        report.add("scripts", "ok", f"updated {', '.join(changed)}" if changed else "up to date")

    def docker():
        info = executor.docker_info()
        runtimes = info.get("Runtimes") or {}
        if "nvidia" in runtimes:
            report.add("docker", "ok", f"Docker {info.get('ServerVersion', '?')}, NVIDIA runtime present")
        else:
            report.add("docker", "warn", f"Docker {info.get('ServerVersion', '?')} has no NVIDIA runtime; install the "
                                         "NVIDIA Container Toolkit or `--gpus` will fail.")

    def image():
        names = {f"{i.get('Repository')}:{i.get('Tag')}" for i in executor.images()}
        wanted = host.image if ":" in host.image.rsplit("/", 1)[-1] else f"{host.image}:latest"
        if wanted in names:
            report.add("image", "ok", f"{host.image} is present")
        else:
            report.add("image", "fail", f"{host.image} is not on the host; build or pull it there "
                                        f"(`{host.docker_cmd} pull {host.image}`).")

    def gpus():
        report.gpus = executor.gpu_info()
        if not report.gpus:
            report.add("gpus", "fail", "nvidia-smi is not installed on the host: no NVIDIA driver.")
            return
        first = report.gpus[0]
        total = f"{first.memory_total_mb / 1024:.0f} GB" if first.memory_total_mb else "? GB"
        label = " — SIMULATED, not a real GPU" if first.simulated else ""
        report.add("gpus", "ok", f"{len(report.gpus)} × {first.name} ({total}), driver {first.driver_version}, "
                                 f"CUDA {first.cuda_version or '?'}{label}")
        needed = host.slots * host.gpus_per_job
        if needed > len(report.gpus):
            report.add("gpu slots", "warn", f"{host.slots} slot(s) × {host.gpus_per_job} GPU(s) per job need {needed} "
                                            f"GPUs, the host has {len(report.gpus)}: jobs wait for GPUs; lower them with "
                                            f"`cosmos host edit {host.name}`.")

    def disk():
        report.disk = executor.disk_free()
        detail = f"{_gib(report.disk.free_bytes)} free of {_gib(report.disk.total_bytes)}"
        if report.disk.free_bytes < DISK_WARN_BYTES:
            report.add("disk", "warn", f"only {detail}; outputs and the input cache need room")
        else:
            report.add("disk", "ok", detail)

    def containers():
        report.containers = executor.containers()
        names = ", ".join(c.name for c in report.containers)
        report.add("containers", "ok", f"{len(report.containers)} running" + (f": {names}" if names else ""))

    return [("remote dir", remote_dir), ("python3", python), ("scripts", scripts), ("docker", docker),
            ("image", image), ("gpus", gpus), ("disk", disk), ("containers", containers)]


def host_check_run(host: GPUHost, *, accept_new_key: bool = False) -> HostReport:
    started = time.monotonic()
    report = HostReport(host.name, host.address, host.simulated)
    transport = transport_for(host, accept_new_key=accept_new_key and not host.host_key)
    try:
        if _connect(host, transport, report):
            executor = DockerExecutor.for_host(host, transport)
            for name, step in _steps(host, executor, report):
                try:
                    step()
                except ConnectionLost as exc:
                    report.add(name, "fail", exc.message)
                    break
                except GPUError as exc:
                    report.add(name, "fail", exc.message)
    finally:
        transport.close()
    report.seconds = time.monotonic() - started
    return report
