"""The simulator's `docker` and `nvidia-smi` answer like the real commands (run as programs)."""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from gpu.sim import containers
from gpu.sim.install import sim_env
from gpu.transports import LocalTransport

IMAGE = "nvcr.io/ubuntu/cosmos-transfer1:latest"


@pytest.fixture
def machine(tmp_path):
    """A simulated machine: its own container state; commands run as separate programs."""
    transport = LocalTransport(env=sim_env(tmp_path / "sim", state_dir=tmp_path / "state"))
    yield transport
    ids = transport.run(["docker", "ps", "-q"]).stdout.split()
    if ids:
        transport.run(["docker", "kill", *ids])


@pytest.fixture
def workspace(tmp_path):
    folder = tmp_path / "workspace"
    folder.mkdir()
    return folder


def run_detached(machine, workspace, name, script, *labels):
    argv = ["docker", "run", "-d", "--name", name]
    for label in labels:
        argv += ["--label", label]
    argv += ["-v", f"{workspace}:/workspace", "-w", "/workspace", IMAGE, "bash", "-lc", script]
    return machine.run(argv)


def test_run_detached_prints_an_id_and_runs_in_the_mounted_folder(machine, workspace):
    result = run_detached(machine, workspace, "c1", "pwd > where.txt; echo hello")
    assert result.ok and len(result.stdout.strip()) == 64
    assert machine.run(["docker", "wait", "c1"]).stdout == "0\n"
    assert (workspace / "where.txt").read_text().strip() == str(workspace)
    assert machine.run(["docker", "logs", "c1"]).stdout == "hello\n"


def test_ps_filters_and_formats_like_docker(machine, workspace):
    run_detached(machine, workspace, "cosmos-a", "sleep 30", "cosmos.job=a")
    run_detached(machine, workspace, "other", "sleep 30")
    ours = machine.run(["docker", "ps", "--filter", "label=cosmos.job", "--format", "{{.Names}}|{{.Image}}|{{.Status}}"])
    name, image, status = ours.stdout.strip().split("|")
    assert (name, image) == ("cosmos-a", IMAGE) and status.startswith("Up ")
    by_image = machine.run(["docker", "ps", "--filter", f"ancestor={IMAGE}", "--format", "{{.Names}}"]).stdout.split()
    assert sorted(by_image) == ["cosmos-a", "other"]
    row = json.loads(machine.run(["docker", "ps", "--filter", "label=cosmos.job=a", "--format", "{{json .}}"]).stdout)
    assert row["Labels"] == "cosmos.job=a" and row["State"] == "running"
    assert machine.run(["docker", "ps", "--filter", "label=cosmos.job=b", "-q"]).stdout == ""


def test_kill_ends_the_whole_process_group_with_137(machine, workspace):
    run_detached(machine, workspace, "victim", "sleep 313 & sleep 313; wait")
    assert machine.run(["docker", "kill", "victim"]).stdout == "victim\n"
    state = json.loads(machine.run(["docker", "inspect", "victim", "--format", "{{json .State}}"]).stdout)
    assert (state["Running"], state["ExitCode"], state["Status"]) == (False, 137, "exited")
    # Every process of the group got SIGKILL; the kernel may take a moment to end the ones the
    # supervisor does not wait for (seen once under a loaded machine).
    deadline = time.monotonic() + 5
    while leftovers := subprocess.run(["pgrep", "-f", "sleep 313"], capture_output=True, text=True).stdout:
        assert time.monotonic() < deadline, f"left running: {leftovers}"
        time.sleep(0.05)
    again = machine.run(["docker", "kill", "victim"])
    assert again.exit_code == 1 and "is not running" in again.stderr


def _ended_container(machine, workspace, tmp_path, monkeypatch, name, script):
    """A container that ran to its end, seen from this process, with its final recorded state."""
    run_detached(machine, workspace, name, script)
    machine.run(["docker", "wait", name])
    monkeypatch.setenv("COSMOS_SIM_STATE", str(tmp_path / "state"))
    container = containers.find(name)
    return container, container.state()


def _seen_running(container, ended: dict) -> None:
    """Put back the state a reader saw before the supervisor recorded the end."""
    (container.folder / "state.json").write_text(json.dumps({**ended, "Running": True, "Status": "running"}))


def test_an_exit_recorded_just_before_the_supervisor_ends_is_kept(machine, workspace, tmp_path, monkeypatch):
    container, ended = _ended_container(machine, workspace, tmp_path, monkeypatch, "racer", "exit 1")
    assert ended["ExitCode"] == 1
    _seen_running(container, ended)

    def supervisor_records_then_ends(pid):  # what happens between a reader's read and its check
        (container.folder / "state.json").write_text(json.dumps(ended))
        return False

    monkeypatch.setattr(containers, "_alive", supervisor_records_then_ends)
    state = container.state()
    assert (state["Running"], state["ExitCode"], state["Error"]) == (False, 1, "")
    assert [e["Actor"]["Attributes"]["exitCode"] for e in containers.events_read() if e["Action"] == "die"] == ["1"]


def test_a_container_whose_supervisor_vanished_is_recorded_killed(machine, workspace, tmp_path, monkeypatch):
    container, ended = _ended_container(machine, workspace, tmp_path, monkeypatch, "orphan", "exit 0")
    _seen_running(container, ended)  # as after a restart of the machine: the supervisor never recorded
    state = container.state()
    assert (state["Running"], state["ExitCode"], state["Error"]) == (False, 137, "supervisor gone")
    assert machine.run(["docker", "inspect", "orphan", "--format", "{{.State.ExitCode}}"]).stdout == "137\n"


def test_errors_use_dockers_words_and_exit_codes(machine, workspace):
    missing = machine.run(["docker", "inspect", "nobody"])
    assert missing.exit_code == 1 and "No such object: nobody" in missing.stderr
    run_detached(machine, workspace, "twice", "true")
    conflict = run_detached(machine, workspace, "twice", "true")
    assert conflict.exit_code == 125 and 'The container name "/twice" is already in use' in conflict.stderr
    unknown = machine.run(["docker", "run", "-d", "no/such-image", "true"])
    assert unknown.exit_code == 125 and "Unable to find image" in unknown.stderr


def test_logs_follow_ends_with_the_container(machine, workspace):
    run_detached(machine, workspace, "talker", "for i in 1 2 3; do echo line $i; sleep 0.05; done")
    assert machine.run(["docker", "logs", "-f", "talker"]).stdout == "line 1\nline 2\nline 3\n"
    assert machine.run(["docker", "logs", "--tail", "1", "talker"]).stdout == "line 3\n"


def test_rm_refuses_a_running_container_unless_forced(machine, workspace):
    run_detached(machine, workspace, "busy", "sleep 30")
    refused = machine.run(["docker", "rm", "busy"])
    assert refused.exit_code == 1 and "container is running" in refused.stderr
    assert machine.run(["docker", "rm", "-f", "busy"]).ok
    assert machine.run(["docker", "ps", "-a", "-q"]).stdout == ""


def test_foreground_run_relays_output_and_exit_code(machine, workspace):
    result = machine.run(["docker", "run", "--rm", "-v", f"{workspace}:/workspace", "-w", "/workspace", IMAGE,
                          "sh", "-c", "echo in container; exit 3"])
    assert (result.exit_code, result.stdout) == (3, "in container\n")
    assert machine.run(["docker", "ps", "-a", "-q"]).stdout == ""


def test_info_and_images_say_they_are_simulated(machine):
    info = json.loads(machine.run(["docker", "info", "--format", "{{json .}}"]).stdout)
    assert "simulator" in info["OperatingSystem"] and "nvidia" in info["Runtimes"]
    images = [json.loads(line) for line in machine.run(["docker", "images", "--format", "{{json .}}"]).stdout.splitlines()]
    assert [f"{i['Repository']}:{i['Tag']}" for i in images] == [IMAGE]


def test_nvidia_smi_answers_the_query_and_is_labelled_simulated(machine):
    result = machine.run(["nvidia-smi", "--query-gpu=name,memory.total,memory.used,utilization.gpu,temperature.gpu,"
                          "driver_version", "--format=csv,noheader,nounits"])
    name, total, used, util, temp, driver = [v.strip() for v in result.stdout.strip().split(",")]
    assert "(cosmos-sim)" in name and total == "81559" and driver
    assert "SIMULATED" in machine.run(["nvidia-smi"]).stdout
    bad = machine.run(["nvidia-smi", "--query-gpu=bogus", "--format=csv"])
    assert bad.exit_code == 2 and 'Field "bogus" is not a valid field' in bad.stdout


def test_events_list_each_containers_start_and_death_after_it_is_removed(machine, workspace):
    before = time.time()
    run_detached(machine, workspace, "short", "sleep 0.2; exit 3")
    run_detached(machine, workspace, "other", "true")
    machine.run(["docker", "wait", "short", "other"])
    machine.run(["docker", "rm", "short", "other"])
    after = time.time()
    window = ["--since", f"{before:.3f}", "--until", f"{after:.3f}"]
    listed = machine.run(["docker", "events", *window, "--filter", "container=short", "--format", "{{json .}}"])
    events = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [e["Action"] for e in events] == ["start", "die"]
    start, die = (e["timeNano"] / 1e9 for e in events)
    assert before <= start and start + 0.2 <= die <= after
    assert events[1]["Actor"]["Attributes"]["exitCode"] == "3" and events[1]["Actor"]["Attributes"]["name"] == "short"
    deaths = machine.run(["docker", "events", *window, "--filter", "event=die", "--format", "{{.Actor.Attributes.name}}"])
    assert sorted(deaths.stdout.split()) == ["other", "short"]
    assert machine.run(["docker", "events", "--since", f"{after:.3f}", "--until", f"{time.time():.3f}"]).stdout == ""
    bad = machine.run(["docker", "events", *window, "--filter", "colour=red"])
    assert bad.exit_code == 1 and "invalid filter 'colour'" in bad.stderr
