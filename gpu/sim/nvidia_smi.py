"""The simulated `nvidia-smi`: `--query-gpu=... --format=csv[,noheader][,nounits]`, `-L` and the table.

GPUs: `COSMOS_SIM_GPUS` (default 1), each named "Simulated H100 80GB HBM3 (cosmos-sim)" so no
one mistakes it for a real one. A GPU looks busy (memory, utilization, temperature) while a
simulated container runs.
"""

from __future__ import annotations

import os
import sys

from gpu.sim import containers

NAME = "Simulated H100 80GB HBM3 (cosmos-sim)"
DRIVER = "570.86.15"
CUDA = "12.8"
MEMORY_TOTAL = 81559


def gpu_count() -> int:
    return max(1, int(os.environ.get("COSMOS_SIM_GPUS", "1") or 1))


def devices_requested(option: str | None) -> list[int] | None:
    """The device indices `docker run --gpus OPTION` names ('"device=1,2"', 'device=0'), or None
    when it names no particular ones ("all", a count, no --gpus). ValueError for a bad index."""
    value = (option or "").strip().strip("'\"")
    if not value.startswith("device="):
        return None
    return [int(item) for item in value.removeprefix("device=").split(",")]


def _busy(count: int) -> set[int]:
    """A running container keeps the devices it was given busy; one given none in particular
    (`--gpus all`) the lowest that is otherwise free, as a job with CUDA_VISIBLE_DEVICES=0 would."""
    busy: set[int] = set()
    unplaced = 0
    for container in containers.all_containers():
        if not container.running():
            continue
        requests = (container.config.get("HostConfig") or {}).get("DeviceRequests") or [{}]
        try:
            devices = devices_requested(requests[0].get("Options"))
        except ValueError:
            devices = None
        if devices is None:
            unplaced += 1
        else:
            busy.update(devices)
    for index in range(count):
        if unplaced and index not in busy:
            busy.add(index)
            unplaced -= 1
    return busy


def gpus() -> list[dict]:
    count = gpu_count()
    busy = _busy(count)
    rows = []
    for index in range(count):
        active = index in busy
        rows.append({
            "index": str(index),
            "name": NAME,
            "uuid": f"GPU-5c0e5c0e-0000-4000-8000-{index:012d}",
            "memory.total": MEMORY_TOTAL,
            "memory.used": 65432 if active else 1,
            "memory.free": MEMORY_TOTAL - (65432 if active else 1),
            "utilization.gpu": 97 if active else 0,
            "temperature.gpu": 71 if active else 34,
            "driver_version": DRIVER,
            "power.draw": 612.5 if active else 71.2,
            "pci.bus_id": f"00000000:{index + 0x18:02X}:00.0",
        })
    return rows


UNITS = {"memory.total": "MiB", "memory.used": "MiB", "memory.free": "MiB", "utilization.gpu": "%", "power.draw": "W"}


def query(fields: list[str], fmt: str) -> int:
    options = set(fmt.split(",")[1:])
    rows = gpus()
    for name in fields:
        if name not in rows[0]:
            sys.stdout.write(f'Field "{name}" is not a valid field to query.\n\n')
            return 2
    if "noheader" not in options:
        sys.stdout.write(", ".join(f"{f} [{UNITS[f]}]" if f in UNITS and "nounits" not in options else f for f in fields) + "\n")
    for row in rows:
        values = []
        for name in fields:
            value = row[name]
            if name in UNITS and "nounits" not in options:
                value = f"{value} {UNITS[name]}"
            values.append(str(value))
        sys.stdout.write(", ".join(values) + "\n")
    return 0


def table() -> int:
    rows = gpus()
    out = [
        "+-----------------------------------------------------------------------------------------+",
        f"| NVIDIA-SMI {DRIVER}              Driver Version: {DRIVER}      CUDA Version: {CUDA}     |",
        "|  *** SIMULATED by the Cosmos host simulator: there is no real GPU on this machine ***    |",
        "|-----------------------------------------+------------------------+----------------------+",
    ]
    for row in rows:
        out.append(f"| {row['index']:>3}  {row['name']:<36}| {row['memory.used']:>6}MiB / {row['memory.total']}MiB | "
                   f"{row['utilization.gpu']:>3}%  {row['temperature.gpu']}C      |")
    out.append("+-----------------------------------------------------------------------------------------+")
    sys.stdout.write("\n".join(out) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    fields, fmt = None, "csv"
    for arg in argv:
        if arg.startswith("--query-gpu="):
            fields = [f.strip() for f in arg.split("=", 1)[1].split(",") if f.strip()]
        elif arg.startswith("--format="):
            fmt = arg.split("=", 1)[1]
        elif arg in ("-L", "--list-gpus"):
            for row in gpus():
                sys.stdout.write(f"GPU {row['index']}: {row['name']} (UUID: {row['uuid']})\n")
            return 0
    if fields is not None:
        return query(fields, fmt)
    return table()
