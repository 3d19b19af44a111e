"""Transports: how the execution layer reaches a GPU host. `transport_for(host)` picks one.

    with transport_for(host) as transport:
        transport.run(["nvidia-smi", "-L"]).check("nvidia-smi")

See `base.Transport` for the interface and its guarantees.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gpu.transports.base import CommandResult, CommandStream, RemoteStat, Transport
from gpu.transports.local import LocalTransport
from gpu.transports.ssh import SSHTransport

if TYPE_CHECKING:
    from gpu.models import GPUHost

# Django is imported only when a host is turned into a transport: the transports themselves
# (and the simulator, and bench scripts) work without it.

__all__ = ["CommandResult", "CommandStream", "LocalTransport", "RemoteStat", "SSHTransport", "Transport",
           "transport_for", "sim_root"]


def sim_root():
    """Where the local simulator's entry points are installed (under the data dir)."""
    from django.conf import settings

    return settings.DATA_DIR / "sim"


def transport_for(host: "GPUHost", *, accept_new_key: bool = False) -> Transport:
    """A transport for the host (not connected yet; use it as a context manager).

    A local simulated host gets the simulator first on PATH, with its own container state kept
    in the host's remote dir (each simulated host is a machine of its own). `accept_new_key`
    lets an SSH host without a pinned key connect; the key it offered is then in
    `transport.offered_host_key`, to be pinned by the caller.
    """
    from gpu.models import Transport as TransportKind

    if host.transport == TransportKind.LOCAL:
        env = {}
        if host.simulated:
            from gpu.sim.install import LOCAL_STATE_DIR, sim_env

            env = sim_env(sim_root(), state_dir=f"{host.remote_dir.rstrip('/')}/{LOCAL_STATE_DIR}")
            env["COSMOS_SIM_IMAGES"] = host.image  # the simulated machine has the image it is told to use
        return LocalTransport(env=env, label=f"host {host.name} (this machine)")
    return SSHTransport(
        hostname=host.hostname,
        port=host.port,
        username=host.username,
        key_path=host.key_path,
        host_key=host.host_key,
        accept_new_key=accept_new_key,
        label=f"host {host.name} ({host.username}@{host.hostname}:{host.port})",
        host_name=host.name,
    )
