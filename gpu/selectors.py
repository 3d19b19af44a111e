"""Host reads. Any signed-in user may see the hosts (pages show which are simulated); the key
path is never part of what `host_summary` presents."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from gpu.errors import HostNotFound
from gpu.models import GPUHost


def hosts_list(*, user) -> QuerySet[GPUHost]:
    return GPUHost.objects.all()


def hosts_enabled() -> QuerySet[GPUHost]:
    """The hosts that may get new jobs (for the dispatcher: a system read)."""
    return GPUHost.objects.filter(enabled=True)


def host_get(*, user, name: str) -> GPUHost:
    try:
        return GPUHost.objects.get(name=name)
    except GPUHost.DoesNotExist:
        raise HostNotFound(f"No GPU host named {name!r}. `cosmos host list` shows them.", field="name") from None


def host_key_fingerprint(host: GPUHost) -> str:
    if not host.host_key:
        return ""
    from gpu.transports.ssh import parse_key_line

    try:
        key = parse_key_line(host.host_key)
    except ValueError:
        return "unreadable"
    return f"{key.get_name()} {key.fingerprint}"


def host_summary(host: GPUHost) -> dict[str, Any]:
    """What entry points may show of a host (never the key path)."""
    check = host.last_check or {}
    return {
        "name": host.name,
        "transport": host.transport,
        "address": host.address,
        "remote_dir": host.remote_dir,
        "docker_cmd": host.docker_cmd,
        "image": host.image,
        "slots": host.slots,
        "gpus_per_job": host.gpus_per_job,
        "shm_size": host.shm_size,
        "enabled": host.enabled,
        "simulated": host.simulated,
        "host_key": host_key_fingerprint(host),
        "last_check": {"ok": check.get("ok"), "summary": check.get("summary", "")} if check else None,
        "last_checked_at": host.last_checked_at.isoformat() if host.last_checked_at else None,
    }
