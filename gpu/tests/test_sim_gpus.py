"""The simulator's GPUs: `docker run --gpus "device=N"` keeps device N busy in nvidia-smi, and a
device the machine does not have is refused the way nvidia-container-cli refuses it."""

from __future__ import annotations

import pytest

from gpu.sim.install import sim_env
from gpu.transports import LocalTransport

IMAGE = "nvcr.io/ubuntu/cosmos-transfer1:latest"


@pytest.fixture
def machine(tmp_path):
    """A simulated machine with two GPUs."""
    transport = LocalTransport(env={**sim_env(tmp_path / "sim", state_dir=tmp_path / "state"), "COSMOS_SIM_GPUS": "2"})
    yield transport
    ids = transport.run(["docker", "ps", "-q"]).stdout.split()
    if ids:
        transport.run(["docker", "kill", *ids])


def run_on(machine, workspace, name, gpus):
    return machine.run(["docker", "run", "-d", "--name", name, "--gpus", gpus, "-v", f"{workspace}:/workspace",
                        "-w", "/workspace", IMAGE, "bash", "-c", "sleep 30"])


def busy_gpus(machine) -> list[str]:
    result = machine.run(["nvidia-smi", "--query-gpu=index,utilization.gpu", "--format=csv,noheader,nounits"])
    return [row.split(",")[0].strip() for row in result.stdout.splitlines() if row.split(",")[1].strip() != "0"]


def test_a_container_keeps_the_device_it_was_given_busy(machine, tmp_path):
    assert busy_gpus(machine) == []
    assert run_on(machine, tmp_path, "on-one", '"device=1"').ok
    assert busy_gpus(machine) == ["1"]
    assert run_on(machine, tmp_path, "on-all", "all").ok  # no device in particular: the lowest free one
    assert busy_gpus(machine) == ["0", "1"]


def test_a_device_the_machine_lacks_is_refused_with_exit_125(machine, tmp_path):
    result = run_on(machine, tmp_path, "too-far", '"device=1,2"')
    assert result.exit_code == 125 and "device error: 2: unknown device" in result.stderr
    assert machine.run(["docker", "ps", "-a", "-q"]).stdout.strip() == ""
