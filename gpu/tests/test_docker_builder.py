"""Docker command lines are built word by word; nothing a user typed reaches a shell unquoted."""

from __future__ import annotations

import shlex

import pytest

from gpu.docker import DockerCommandBuilder

builder = DockerCommandBuilder("sudo docker")


def test_run_builds_a_detached_gpu_container():
    argv = builder.run(
        image="nvcr.io/ubuntu/cosmos-transfer1:latest", name="cosmos-r1", labels={"cosmos.job": "r1"}, gpus="all",
        ipc="host", shm_size="8g", volumes=[("/home/u/cosmos", "/workspace")], env={"NUM_GPU": "1"},
        workdir="/workspace", command=["bash", "-lc", "bash scripts/inference.sh jobs/r1"],
    )
    assert argv == ["sudo", "docker", "run", "-d", "--name", "cosmos-r1", "--label", "cosmos.job=r1", "--gpus", "all",
                    "--ipc=host", "--shm-size=8g", "-v", "/home/u/cosmos:/workspace", "-e", "NUM_GPU=1",
                    "-w", "/workspace", "nvcr.io/ubuntu/cosmos-transfer1:latest",
                    "bash", "-lc", "bash scripts/inference.sh jobs/r1"]


def test_hostile_values_survive_the_shell_as_single_words():
    hostile = "x'; rm -rf ~; echo \"$(id)\" `uname` $HOME"
    argv = builder.run(image="img", labels={"note": hostile}, env={"PROMPT": hostile}, command=["echo", hostile])
    line = DockerCommandBuilder.to_shell(argv)
    assert shlex.split(line) == argv


def test_seed_commands():
    assert DockerCommandBuilder.to_shell(builder.logs("container_id", follow=True)) == "sudo docker logs -f container_id"
    assert builder.info() == ["sudo", "docker", "info"]
    assert builder.images() == ["sudo", "docker", "images"]
    assert builder.kill(["container1", "container2"]) == ["sudo", "docker", "kill", "container1", "container2"]
    assert builder.logs("c", since="10m", tail=50) == ["sudo", "docker", "logs", "--since", "10m", "--tail", "50", "c"]
    assert builder.ps(filters=[("label", "cosmos.job"), ("ancestor", "img")], format="{{json .}}") == [
        "sudo", "docker", "ps", "--no-trunc", "--filter", "label=cosmos.job", "--filter", "ancestor=img",
        "--format", "{{json .}}"]
    assert builder.inspect("c", format="{{json .State}}") == ["sudo", "docker", "inspect", "--format", "{{json .State}}", "c"]
    assert builder.rm(["c"], force=True) == ["sudo", "docker", "rm", "-f", "c"]
    assert builder.wait("c") == ["sudo", "docker", "wait", "c"]
    assert builder.events(since=1.5, until=2, events=["die"], format="{{json .}}") == [
        "sudo", "docker", "events", "--since", "1.500", "--until", "2.000", "--filter", "event=die", "--format", "{{json .}}"]
    assert DockerCommandBuilder("docker").info() == ["docker", "info"]


@pytest.mark.parametrize("call", [
    lambda: builder.run(image="img", name="bad name", command=[]),
    lambda: builder.run(image="-v", command=[]),
    lambda: builder.run(image="img", env={"BAD-NAME": "x"}, command=[]),
    lambda: builder.run(image="img", labels={"bad key": "x"}, command=[]),
    lambda: builder.kill([]),
    lambda: builder.kill(["--all"]),
    lambda: builder.logs("c d"),
    lambda: DockerCommandBuilder(""),
])
def test_invalid_names_are_refused(call):
    with pytest.raises(ValueError):
        call()
