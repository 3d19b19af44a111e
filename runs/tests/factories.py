"""Small builders for runs tests: prompts and runs made straight in the database, and hosts.

The service tests go through `prompt_create` with real videos; these are for the tests of the
machinery underneath (dispatcher, transitions) that only need rows."""

from __future__ import annotations

import itertools

from gpu.models import GPUHost
from prompts.models import Prompt
from runs.models import Run, RunStatus
from runs.params import batch_key, inference_params_resolve

_counter = itertools.count()


def prompt_row(owner, *, text: str = "a city at night") -> Prompt:
    number = next(_counter)
    return Prompt.objects.create(
        id=f"ps_test{number:08d}",
        owner=owner,
        prompt_text=f"{text} {number}",
        inputs={"color": {"path": "inputs/x.mp4", "sha256": f"{number:064d}"}},
    )


def run_row(prompt: Prompt, *, priority: int = 0, params: dict | None = None, model_type: str = "transfer") -> Run:
    config = inference_params_resolve(params, prompt=prompt)
    key = batch_key(owner_id=prompt.owner_id, model_type=model_type, config=config) if model_type != "upscale" else ""
    return Run.objects.create(
        prompt=prompt,
        owner=prompt.owner,
        model_type=model_type,
        status=RunStatus.PENDING,
        execution_config=config,
        priority=priority,
        batch_key=key,
    )


def host_row(name: str, *, slots: int = 1, enabled: bool = True) -> GPUHost:
    return GPUHost.objects.create(name=name, transport="local", remote_dir=f"/tmp/{name}", slots=slots, enabled=enabled, simulated=True)
