"""DockerCommandBuilder: every docker command line the project runs, built by one method each.

Methods return argv lists (`["sudo", "docker", "logs", "-f", "cosmos-42"]`); a transport quotes
each word for the remote shell (`shlex.join`), so no user text is ever pasted into a shell line
unquoted. `to_shell(argv)` gives the quoted line for display or logs. Names and labels are
validated here: a bad one is a programming error, raised as ValueError.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_LABEL_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_ENV_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise ValueError(f"invalid container name {name!r}")
    return name


def _check_ref(ref: str) -> str:
    """A container name or id; never starts with "-" (it would read as an option)."""
    if not ref or ref.startswith("-") or any(c.isspace() for c in ref):
        raise ValueError(f"invalid container reference {ref!r}")
    return ref


class DockerCommandBuilder:
    """Builds docker argv lists for one host's docker command (e.g. "sudo docker")."""

    def __init__(self, docker_cmd: str = "sudo docker"):
        self.prefix = shlex.split(docker_cmd)
        if not self.prefix:
            raise ValueError("the docker command is empty")

    @staticmethod
    def to_shell(argv: Sequence[str]) -> str:
        return shlex.join(argv)

    def run(
        self,
        *,
        image: str,
        command: Sequence[str],
        name: str | None = None,
        detach: bool = True,
        remove: bool = False,
        labels: Mapping[str, str] | None = None,
        gpus: str | None = None,
        ipc: str | None = None,
        shm_size: str | None = None,
        volumes: Sequence[tuple[str, str]] = (),
        env: Mapping[str, str] | None = None,
        workdir: str | None = None,
    ) -> list[str]:
        argv = [*self.prefix, "run"]
        if detach:
            argv.append("-d")
        if remove:
            argv.append("--rm")
        if name:
            argv += ["--name", _check_name(name)]
        for key, value in (labels or {}).items():
            if not _LABEL_KEY.fullmatch(key):
                raise ValueError(f"invalid label key {key!r}")
            argv += ["--label", f"{key}={value}"]
        if gpus:
            argv += ["--gpus", gpus]
        if ipc:
            argv.append(f"--ipc={ipc}")
        if shm_size:
            argv.append(f"--shm-size={shm_size}")
        for host_path, container_path in volumes:
            argv += ["-v", f"{host_path}:{container_path}"]
        for key, value in (env or {}).items():
            if not _ENV_KEY.fullmatch(key):
                raise ValueError(f"invalid environment variable name {key!r}")
            argv += ["-e", f"{key}={value}"]
        if workdir:
            argv += ["-w", workdir]
        if not image or image.startswith("-"):
            raise ValueError(f"invalid image {image!r}")
        return [*argv, image, *command]

    def logs(self, container: str, *, follow: bool = False, since: str | None = None, tail: int | None = None) -> list[str]:
        argv = [*self.prefix, "logs"]
        if follow:
            argv.append("-f")
        if since:
            argv += ["--since", since]
        if tail is not None:
            argv += ["--tail", str(int(tail))]
        return [*argv, _check_ref(container)]

    def ps(self, *, all: bool = False, filters: Sequence[tuple[str, str]] = (), format: str | None = None,
           quiet: bool = False, no_trunc: bool = True) -> list[str]:
        argv = [*self.prefix, "ps"]
        if all:
            argv.append("-a")
        if quiet:
            argv.append("-q")
        if no_trunc:
            argv.append("--no-trunc")
        for key, value in filters:
            argv += ["--filter", f"{key}={value}"]
        if format:
            argv += ["--format", format]
        return argv

    def inspect(self, container: str, *, format: str | None = None) -> list[str]:
        argv = [*self.prefix, "inspect"]
        if format:
            argv += ["--format", format]
        return [*argv, _check_ref(container)]

    def wait(self, container: str) -> list[str]:
        return [*self.prefix, "wait", _check_ref(container)]

    def events(self, *, since: float, until: float, events: Sequence[str] = (), format: str | None = None) -> list[str]:
        """Past daemon events between two unix times (`--until` makes docker answer and exit)."""
        argv = [*self.prefix, "events", "--since", f"{since:.3f}", "--until", f"{until:.3f}"]
        for event in events:
            argv += ["--filter", f"event={event}"]
        return [*argv, *(["--format", format] if format else [])]

    def kill(self, containers: Sequence[str]) -> list[str]:
        if not containers:
            raise ValueError("kill needs at least one container")
        return [*self.prefix, "kill", *map(_check_ref, containers)]

    def rm(self, containers: Sequence[str], *, force: bool = False) -> list[str]:
        if not containers:
            raise ValueError("rm needs at least one container")
        return [*self.prefix, "rm", *(["-f"] if force else []), *map(_check_ref, containers)]

    def info(self, *, format: str | None = None) -> list[str]:
        return [*self.prefix, "info", *(["--format", format] if format else [])]

    def images(self, *, format: str | None = None, reference: str | None = None) -> list[str]:
        argv = [*self.prefix, "images"]
        if format:
            argv += ["--format", format]
        if reference:
            argv.append(_check_ref(reference))
        return argv
