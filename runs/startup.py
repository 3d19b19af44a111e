"""What the run command makes sure of before it serves (besides the first admin): a GPU host, sample inputs.

Each step is idempotent and cheap when already done, so every start runs them all.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from gpu.models import GPUHost, Transport
from prompts.samples import SCENE_FILES, write_scene

LOCAL_SIM_HOST = "local-sim"

def local_sim_host_ensure() -> GPUHost | None:
    """Register the local simulated GPU host when no host exists at all; return it if created.

    Only then: once a team has its own hosts and removed the simulator, a restart must not bring
    it back and start sending their jobs to a simulation.
    """
    if GPUHost.objects.exists():
        return None
    host, created = GPUHost.objects.get_or_create(
        name=LOCAL_SIM_HOST,
        defaults={
            "transport": Transport.LOCAL,
            "simulated": True,
            "remote_dir": str(settings.DATA_DIR / "gpuhost"),
            "docker_cmd": "docker",  # the simulator's docker, found on PATH (sudo would reset PATH)
        },
    )
    return host if created else None


def samples_dir() -> Path:
    return settings.DATA_DIR / "samples" / "scene1"


def sample_inputs_ensure() -> Path | None:
    """Write the sample scene on first start; return its folder if written now."""
    folder = samples_dir()
    if all((folder / name).exists() for name in SCENE_FILES):
        return None
    for name in SCENE_FILES:  # a start interrupted half-way: write the scene again, whole
        (folder / name).unlink(missing_ok=True)
    write_scene(folder)
    return folder
