"""GPUHost: how to reach a machine that runs Cosmos containers. Knows nothing of prompts or runs."""

from __future__ import annotations

from django.db import models

DEFAULT_IMAGE = "nvcr.io/ubuntu/cosmos-transfer1:latest"


class Transport(models.TextChoices):
    SSH = "ssh", "SSH"
    LOCAL = "local", "Local"


class GPUHost(models.Model):
    name = models.SlugField(max_length=64, unique=True)
    transport = models.CharField(max_length=8, choices=Transport.choices, default=Transport.SSH)
    hostname = models.CharField(max_length=255, blank=True)
    port = models.PositiveIntegerField(default=22)
    username = models.CharField(max_length=64, blank=True)
    # A path on the server's disk; never shown in pages or the API.
    key_path = models.CharField(max_length=500, blank=True)
    # The pinned host key, "<type> <base64>"; empty until `cosmos host check --accept-new-key`.
    host_key = models.TextField(blank=True)
    remote_dir = models.CharField(max_length=500)
    docker_cmd = models.CharField(max_length=100, default="sudo docker")
    image = models.CharField(max_length=300, default=DEFAULT_IMAGE)
    # Jobs that may run at once, each on `gpus_per_job` devices of its own (torchrun
    # --nproc_per_node); slots * gpus_per_job must fit the GPUs the host has.
    slots = models.PositiveIntegerField(default=1)
    gpus_per_job = models.PositiveIntegerField(default=1)
    # `docker run --shm-size` of every job container (the seed's [docker] shm_size).
    shm_size = models.CharField(max_length=16, default="8g")
    enabled = models.BooleanField(default=True)
    # A simulated host runs the simulator in gpu/sim, not a GPU; pages say so.
    simulated = models.BooleanField(default=False)
    # Simulator pace and injected failures (see gpu/sim): {"load_seconds", "step_seconds", "fail"}.
    sim_config = models.JSONField(default=dict, blank=True)
    last_check = models.JSONField(default=dict, blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def gpu_count(self) -> int:
        """The GPUs jobs may be given: what the last check saw, or (never seen any) as many as
        the slots need."""
        seen = len((self.last_check or {}).get("gpus") or [])
        return seen or self.slots * self.gpus_per_job

    @property
    def address(self) -> str:
        if self.transport == Transport.LOCAL:
            return "local"
        return f"{self.username}@{self.hostname}:{self.port}"
