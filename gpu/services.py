"""Host actions: add, import the seed's config.toml, check, forget a key, enable/disable, remove,
and the default simulated host of the embedded setup.

Every action takes the acting user; only staff manage hosts (`HostNotAllowed` otherwise). Input
is validated before anything changes; a bad value raises `HostInputInvalid` naming the field
and saying what to fix.
"""

from __future__ import annotations

import os
import re
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from gpu.errors import AuthFailed, HostInputInvalid, HostNameTaken, HostNotAllowed
from gpu.models import DEFAULT_IMAGE, GPUHost, Transport
from gpu.selectors import host_get
from gpu.sim.config import normalize_mode

NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
HOSTNAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.:_-]{0,253}[A-Za-z0-9])?")
USERNAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,31}")
IMAGE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:@-]{0,299}")
# docker's --shm-size: a number and a unit (b, k, m, g); at least 1 MiB, so "8" (bytes) is refused.
SHM_SIZE = re.compile(r"(?P<number>[1-9][0-9]{0,5})(?P<unit>[bkmg])b?")
SHM_UNITS = {"b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
SIM_KEYS = {"load_seconds", "step_seconds", "fail", "fail_jobs"}
DEFAULT_HOST_NAME = "local-sim"


def _require_staff(user, action: str) -> None:
    if not (user.is_active and (user.is_staff or user.is_superuser)):
        raise HostNotAllowed(f"Only staff can {action} GPU hosts.")


def _remote_dir(value: str) -> str:
    value = (value or "").strip()
    if not value:
        raise HostInputInvalid("The remote dir is required: the folder on the host that holds the Cosmos checkout "
                               "(e.g. /home/ubuntu/cosmos-transfer1).", field="remote_dir")
    if not value.startswith("/") or any(c in value for c in "\0\n\r"):
        raise HostInputInvalid(f"The remote dir {value!r} must be an absolute path on the host, like "
                               "/home/ubuntu/cosmos-transfer1.", field="remote_dir")
    normal = os.path.normpath(value)
    if normal == "/":
        raise HostInputInvalid("The remote dir cannot be / itself; give the Cosmos folder.", field="remote_dir")
    if len(normal) > 500:
        raise HostInputInvalid("The remote dir is longer than 500 characters.", field="remote_dir")
    return normal


def _key_path(value: str) -> str:
    value = (value or "").strip()
    if not value:
        raise HostInputInvalid("An SSH host needs --key: the private key file this server uses to log in.",
                               field="key_path")
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = path.resolve()
    if not path.is_file():
        raise HostInputInvalid(f"The key file {path} does not exist (or is not a file).", field="key_path")
    if not os.access(path, os.R_OK):
        raise HostInputInvalid(f"The key file {path} is not readable by the server's user.", field="key_path")
    from gpu.transports.ssh import load_private_key

    try:
        load_private_key(str(path))
    except AuthFailed as exc:
        raise HostInputInvalid(exc.message, field="key_path") from None
    return str(path)


def _int(value: Any, *, field: str, low: int, high: int, what: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise HostInputInvalid(f"{what} must be a whole number, not {value!r}.", field=field) from None
    if not low <= number <= high:
        raise HostInputInvalid(f"{what} must be between {low} and {high}, not {number}.", field=field)
    return number


def _sim_config(value: Any) -> dict[str, Any]:
    config = dict(value or {})
    unknown = sorted(set(config) - SIM_KEYS)
    if unknown:
        raise HostInputInvalid(f"Unknown simulator setting {', '.join(unknown)}; use {', '.join(sorted(SIM_KEYS))}.",
                               field="sim_config")
    for key in ("load_seconds", "step_seconds"):
        if key in config:
            try:
                config[key] = float(config[key])
            except (TypeError, ValueError):
                raise HostInputInvalid(f"Simulator {key} must be a number of seconds.", field="sim_config") from None
            if not 0 <= config[key] <= 3600:
                raise HostInputInvalid(f"Simulator {key} must be between 0 and 3600.", field="sim_config")
    try:
        if config.get("fail"):
            config["fail"] = normalize_mode(config["fail"])
        config["fail_jobs"] = {str(k): normalize_mode(v) for k, v in (config.get("fail_jobs") or {}).items()}
    except ValueError as exc:
        raise HostInputInvalid(f"Simulator: {exc}.", field="sim_config") from None
    if not config["fail_jobs"]:
        del config["fail_jobs"]
    return config


def _shm_size(value: Any) -> str:
    text = str(value if value is not None else "8g").strip().lower()
    match = SHM_SIZE.fullmatch(text)
    if not match or int(match["number"]) * SHM_UNITS[match["unit"]] < 1024**2:
        raise HostInputInvalid(f"Shared memory size {value!r} is not a size like 8g or 512m (at least 1m).",
                               field="shm_size")
    return match["number"] + match["unit"]  # "8GB" -> "8g"


def _gpus_fit(slots: int, gpus_per_job: int, last_check: dict | None) -> None:
    """Each running job holds its own GPUs: slots x GPUs per job must exist on the host."""
    seen = len((last_check or {}).get("gpus") or [])
    if seen and slots * gpus_per_job > seen:
        raise HostInputInvalid(
            f"{slots} slot(s) x {gpus_per_job} GPU(s) per job need {slots * gpus_per_job} GPUs, but the host's last "
            f"check saw {seen}. Lower the slots or the GPUs per job (or check the host again if it has more now).",
            field="gpus_per_job" if gpus_per_job > 1 else "slots",
        )


def default_remote_dir(name: str) -> str:
    """Where a local simulated host keeps its work dir unless told otherwise."""
    return str(settings.DATA_DIR / "sim-hosts" / name)


def host_validate(
    *,
    name: str,
    transport: str,
    hostname: str = "",
    port: Any = 22,
    username: str = "",
    key_path: str = "",
    remote_dir: str = "",
    docker_cmd: str | None = None,
    image: str | None = None,
    slots: Any = 1,
    gpus_per_job: Any = 1,
    shm_size: Any = "8g",
    simulated: bool = False,
    sim_config: dict | None = None,
    enabled: bool = True,
    last_check: dict | None = None,
) -> dict[str, Any]:
    """Check and normalize a host's fields; return the values to store. Changes nothing.
    `last_check` (an existing host's) bounds slots x gpus_per_job by the GPUs it saw."""
    name = (name or "").strip()
    if not NAME.fullmatch(name):
        raise HostInputInvalid(f"Host name {name!r} is not valid: use 1-64 lowercase letters, digits, '-' or '_', "
                               "starting with a letter or digit (e.g. gpu-1).", field="name")
    if transport not in Transport.values:
        raise HostInputInvalid(f"Transport must be one of {', '.join(Transport.values)}.", field="transport")
    values: dict[str, Any] = {"name": name, "transport": transport, "simulated": bool(simulated), "enabled": bool(enabled)}
    if transport == Transport.SSH:
        hostname = (hostname or "").strip()
        if not HOSTNAME.fullmatch(hostname):
            raise HostInputInvalid(f"Host address {hostname!r} is not a host name or IP address.", field="hostname")
        username = (username or "").strip()
        if not USERNAME.fullmatch(username):
            raise HostInputInvalid(f"User name {username!r} is not valid (e.g. ubuntu).", field="username")
        values.update(hostname=hostname, username=username, key_path=_key_path(key_path),
                      port=_int(port, field="port", low=1, high=65535, what="The SSH port"),
                      remote_dir=_remote_dir(remote_dir))
    else:
        if (hostname or "").strip() or (username or "").strip() or (key_path or "").strip():
            raise HostInputInvalid("A local host runs on this machine: it takes no address, user or key.",
                                   field="hostname")
        if not remote_dir and not simulated:
            raise HostInputInvalid("A local GPU host needs --remote-dir: the Cosmos checkout on this machine.",
                                   field="remote_dir")
        values.update(hostname="", username="", key_path="", port=22,
                      remote_dir=_remote_dir(remote_dir or default_remote_dir(name)))
    docker_cmd = (docker_cmd if docker_cmd is not None else ("docker" if simulated else "sudo docker")).strip()
    try:
        words = shlex.split(docker_cmd)
    except ValueError:
        words = []
    if not words or "\n" in docker_cmd or len(docker_cmd) > 100:
        raise HostInputInvalid(f"Docker command {docker_cmd!r} is not a command (e.g. 'sudo docker').", field="docker_cmd")
    if simulated and transport == Transport.LOCAL and words[0] == "sudo":
        # sudo resets PATH, which is how the simulator's `docker` is found.
        raise HostInputInvalid("A local simulated host runs the simulator's docker without sudo: use 'docker'.",
                               field="docker_cmd")
    values["docker_cmd"] = docker_cmd
    image = (image or DEFAULT_IMAGE).strip()
    if not IMAGE.fullmatch(image):
        raise HostInputInvalid(f"Image {image!r} is not a Docker image name (e.g. {DEFAULT_IMAGE}).", field="image")
    values["image"] = image
    values["slots"] = _int(slots, field="slots", low=1, high=64, what="GPU slots")
    values["gpus_per_job"] = _int(gpus_per_job, field="gpus_per_job", low=1, high=64, what="GPUs per job")
    _gpus_fit(values["slots"], values["gpus_per_job"], last_check)
    values["shm_size"] = _shm_size(shm_size)
    if sim_config and not simulated:
        raise HostInputInvalid("Simulator settings are only for simulated hosts.", field="sim_config")
    values["sim_config"] = _sim_config(sim_config) if simulated else {}
    return values


def _prepare_local_dir(values: dict[str, Any]) -> None:
    folder = Path(values["remote_dir"])
    if values["simulated"]:
        folder.mkdir(parents=True, exist_ok=True)
    elif not folder.is_dir():
        raise HostInputInvalid(f"The remote dir {folder} does not exist on this machine.", field="remote_dir")


def host_add(*, user, **fields: Any) -> GPUHost:
    """Register a host (fields as in `host_validate`). Connect and pin its key with `host_check`."""
    _require_staff(user, "add")
    values = host_validate(**fields)
    if GPUHost.objects.filter(name=values["name"]).exists():
        raise HostNameTaken(f"A host named {values['name']!r} exists already; choose another name.", field="name")
    if values["transport"] == Transport.LOCAL:
        _prepare_local_dir(values)
    try:
        with transaction.atomic():
            return GPUHost.objects.create(**values)
    except IntegrityError:
        raise HostNameTaken(f"A host named {values['name']!r} exists already; choose another name.", field="name") from None


# The seed's [execution] defaults are global settings here (cosmosproject/settings.py), not a
# host's: importing a config says which environment variable carries each.
EXECUTION_SETTINGS = {
    "default_num_steps": ("COSMOS_DEFAULT_NUM_STEPS", "DEFAULT_NUM_STEPS"),
    "default_guidance_scale": ("COSMOS_DEFAULT_GUIDANCE", "DEFAULT_GUIDANCE"),
    "default_upscale_weight": ("COSMOS_DEFAULT_UPSCALE_WEIGHT", "DEFAULT_UPSCALE_WEIGHT"),
}
ALWAYS_OFFLOADED = ("offload_models", "offload_vae")


@dataclass
class ConfigImported:
    """The host made from a config.toml, and what of the file it did not take (one sentence each)."""

    host: GPUHost
    notes: list[str] = field(default_factory=list)


def _config_notes(docker: dict[str, Any], execution: dict[str, Any]) -> list[str]:
    notes = []
    ipc = docker.get("ipc_mode")
    if ipc is not None and ipc != "host":
        notes.append(f"[docker] ipc_mode = {ipc!r} is not used: every job runs with --ipc host "
                     "(torchrun's processes share memory through it).")
    for key, value in execution.items():
        if key in EXECUTION_SETTINGS:
            variable, setting = EXECUTION_SETTINGS[key]
            current = settings.COSMOS[setting]
            same = " (already so)" if str(current) == str(value) else f" (now {current})"
            notes.append(f"[execution] {key} is a global setting here: set {variable}={value} in the server's "
                         f"environment{same}.")
        elif key in ALWAYS_OFFLOADED:
            notes.append(f"[execution] {key} is not a setting here: the job scripts always offload the text "
                         "encoder and guardrail models (gpu/remote/lib.sh).")
        else:
            notes.append(f"[execution] {key} is not used here.")
    return notes


def host_import_config(*, user, path: str | Path, name: str | None = None) -> ConfigImported:
    """Register the host described by the seed's config.toml ([remote], [paths], [docker]);
    the notes say what of [docker] and [execution] is set elsewhere here."""
    _require_staff(user, "add")
    path = Path(path).expanduser()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise HostInputInvalid(f"No file {path}.", field="path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise HostInputInvalid(f"Cannot read {path}: {exc}.", field="path") from None
    except tomllib.TOMLDecodeError as exc:
        raise HostInputInvalid(f"{path} is not valid TOML: {exc}.", field="path") from None
    remote, paths, docker = data.get("remote", {}), data.get("paths", {}), data.get("docker", {})
    if not remote.get("host"):
        raise HostInputInvalid(f"{path} has no [remote] host.", field="path")
    default_name = re.sub(r"[^a-z0-9]+", "-", str(remote["host"]).lower()).strip("-")[:64] or "remote"
    host = host_add(
        user=user,
        name=name or default_name,
        transport=Transport.SSH,
        hostname=str(remote.get("host", "")),
        port=remote.get("port", 22),
        username=str(remote.get("user", "")),
        key_path=str(remote.get("ssh_key", "")),
        remote_dir=str(paths.get("remote_dir", "")),
        docker_cmd=docker.get("docker_cmd"),
        image=docker.get("image"),
        shm_size=docker.get("shm_size", "8g"),
    )
    return ConfigImported(host, _config_notes(docker, data.get("execution", {})))


# What `host_update` may change; the name and the transport make the host what it is.
EDITABLE = ("hostname", "port", "username", "key_path", "remote_dir", "docker_cmd", "image", "slots", "gpus_per_job",
            "shm_size", "sim_config")


def host_update(*, user, name: str, **changes: Any) -> GPUHost:
    """Change some of a host's settings (EDITABLE; None means unchanged). All of them are
    validated together, with the GPUs of the host's last check; nothing is saved on an error."""
    _require_staff(user, "change")
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise HostInputInvalid(f"Cannot change {', '.join(unknown)} of a host.", field=unknown[0])
    host = host_get(user=user, name=name)
    fields = {key: getattr(host, key) for key in ("name", "transport", "simulated", "enabled", *EDITABLE)}
    fields.update({key: value for key, value in changes.items() if value is not None})
    values = host_validate(**fields, last_check=host.last_check)
    if host.transport == Transport.LOCAL and values["remote_dir"] != host.remote_dir:
        _prepare_local_dir(values)
    for key, value in values.items():
        setattr(host, key, value)
    host.save(update_fields=[key for key in values if key != "name"])
    return host


def host_check(*, user, name: str, accept_new_key: bool = False):
    """Connect, pin (with `accept_new_key`, when none is pinned) or verify the host key, inspect
    Docker, the image, the GPUs and the disk; store and return the report (gpu.status.HostReport)."""
    _require_staff(user, "check")
    from gpu.status import host_check_run

    host = host_get(user=user, name=name)
    report = host_check_run(host, accept_new_key=accept_new_key)
    fields = ["last_check", "last_checked_at"]
    if report.pinned_key and not host.host_key:
        host.host_key = report.pinned_key
        fields.append("host_key")
    host.last_check = report.as_dict()
    host.last_checked_at = timezone.now()
    host.save(update_fields=fields)
    return report


def host_forget_key(*, user, name: str) -> GPUHost:
    """Clear the pinned host key (after a legitimate server reinstall); pin again with host_check."""
    _require_staff(user, "change")
    host = host_get(user=user, name=name)
    host.host_key = ""
    host.save(update_fields=["host_key"])
    return host


def host_set_enabled(*, user, name: str, enabled: bool) -> GPUHost:
    """A disabled host gets no new jobs; running ones continue."""
    _require_staff(user, "change")
    host = host_get(user=user, name=name)
    host.enabled = enabled
    host.save(update_fields=["enabled"])
    return host


def host_remove(*, user, name: str) -> None:
    """Forget a host. It must be disabled first, so that no new job lands on it meanwhile."""
    _require_staff(user, "remove")
    host = host_get(user=user, name=name)
    if host.enabled:
        raise HostInputInvalid(f"Host {name} is enabled: disable it first (`cosmos host disable {name}`) and let its "
                               "jobs finish.", field="name")
    host.delete()


def host_default_ensure() -> GPUHost | None:
    """The embedded setup: with no host at all, register one local simulated host. A system action."""
    if GPUHost.objects.exists():
        return None
    values = host_validate(name=DEFAULT_HOST_NAME, transport=Transport.LOCAL, simulated=True)
    _prepare_local_dir(values)
    host, _ = GPUHost.objects.get_or_create(name=values["name"], defaults=values)
    return host
