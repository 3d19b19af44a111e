"""The simulator's knobs: pace and injected failures, per host, per job and per process.

Per host: `<workspace>/.cosmos-sim/config.json` (DockerExecutor writes it from
`GPUHost.sim_config` for simulated hosts):
    {"load_seconds": 8, "step_seconds": 0.4, "fail": "", "fail_jobs": {"<job id>": "<mode>"}}
Per job: a marker in a prompt, e.g. "a city [sim:out_of_memory]".
Everywhere: `COSMOS_SIM_FAIL=<mode>`; `COSMOS_SIM_SPEED=50` makes every delay 50 times shorter.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

CONFIG_PATH = ".cosmos-sim/config.json"  # relative to the workspace (the host's remote dir)

# Failure modes, named like gpu.failures reasons; short aliases are accepted everywhere.
FAIL_MODES = (
    "out_of_memory",
    "missing_checkpoint",
    "guardrail_blocked",
    "docker_start_failed",
    "crashed",
    "hang",
)
ALIASES = {"oom": "out_of_memory", "guardrail": "guardrail_blocked", "docker_start": "docker_start_failed",
           "crash": "crashed", "checkpoint": "missing_checkpoint"}
MARKER = re.compile(r"\[sim:([a-z_]+)\]")

DEFAULT_LOAD_SECONDS = 8.0
DEFAULT_STEP_SECONDS = 0.4


def normalize_mode(mode: str | None) -> str:
    """The canonical failure mode for a name or alias; "" for none; ValueError for an unknown one."""
    if not mode:
        return ""
    mode = ALIASES.get(mode.strip().lower(), mode.strip().lower())
    if mode not in FAIL_MODES:
        raise ValueError(f"unknown simulated failure {mode!r}; choose one of {', '.join(FAIL_MODES)}")
    return mode


@dataclass
class SimConfig:
    load_seconds: float = DEFAULT_LOAD_SECONDS
    step_seconds: float = DEFAULT_STEP_SECONDS
    fail: str = ""
    fail_jobs: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, workspace: str | Path) -> SimConfig:
        path = Path(workspace) / CONFIG_PATH
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            data = {}
        return cls(
            load_seconds=float(data.get("load_seconds", DEFAULT_LOAD_SECONDS)),
            step_seconds=float(data.get("step_seconds", DEFAULT_STEP_SECONDS)),
            fail=data.get("fail") or "",
            fail_jobs=dict(data.get("fail_jobs") or {}),
        )

    def failure_for(self, *, job_id: str = "", texts: tuple[str, ...] = ()) -> str:
        """The failure to inject: a prompt marker, then this job's, then the host's, then the env's."""
        for text in texts:
            match = MARKER.search(text or "")
            if match:
                return normalize_mode(match.group(1))
        return normalize_mode(self.fail_jobs.get(job_id) or self.fail or os.environ.get("COSMOS_SIM_FAIL", ""))


def speed() -> float:
    try:
        return max(float(os.environ.get("COSMOS_SIM_SPEED", "1")), 1e-6)
    except ValueError:
        return 1.0


def pause(seconds: float) -> None:
    """Sleep for a simulated duration (divided by COSMOS_SIM_SPEED)."""
    if seconds > 0:
        time.sleep(seconds / speed())
