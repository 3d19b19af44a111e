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


def gpus() -> list[dict]:
    count = max(1, int(os.environ.get("COSMOS_SIM_GPUS", "1") or 1))
    busy = sum(1 for c in containers.all_containers() if c.running())
    rows = []
    for index in range(count):
        active = index < busy
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
