"""Run actions: submit (inference, batch, create-and-run, upscale, enhance), cancel, retry,
delete (prompts with their runs, and runs), kill a host's containers, verify, reconcile, status.

Every entry point calls these. Each takes the acting user: a user acts on their own prompts
and runs, staff on everyone's; another user's object is `NotFound`. Input is validated before
anything is written; a `dry_run` returns the exact specs, JSONL and commands and writes
nothing. New runs are committed in one transaction and, once committed, the dispatcher is
asked to look for work.

Deleting is database first, files after: rows go in one transaction, and only once it has
committed are the runs' output folders and the prompt's no-longer-used input videos removed. A
crash in between leaves files without rows (found by `verify`), never rows without files. With
`force`, active runs are cancelled first (their containers killed), so no container keeps
working for a run that no longer exists.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from django.db import transaction
from django_q.tasks import async_task

from gpu import live
from gpu.nvidia import ENHANCE_RESOLUTION_RANGE
from prompts.errors import Conflict, InvalidInput, NotAllowed
from prompts.models import DEFAULT_NEGATIVE_PROMPT, ModelType, Prompt
from prompts.selectors import prompt_get
from prompts.services import prompt_create, prompt_inputs_release
from prompts.text import prompt_text_clean
from runs import hosts, integrity, pipeline, plans, reconcile
from runs.models import ACTIVE_STATUSES, FINISHED_STATUSES, Run, RunStatus
from runs.params import UPSCALE_NUM_STEPS, inference_params_resolve, upscale_weight_validate
from runs.dispatcher import dispatch_soon
from runs.selectors import run_get, run_output_dir
from runs.submit import (
    Submission,
    batch_name_clean,
    entry_errors,
    new_batch_id,
    params_merge,
    prompt_inputs_check,
    run_build,
    run_requests,
)
from runs.transitions import run_transition

logger = logging.getLogger(__name__)

NOT_STARTED = (RunStatus.PENDING, RunStatus.QUEUED, RunStatus.UPLOADING)
STARTED = (RunStatus.RUNNING, RunStatus.DOWNLOADING)
PRIORITY_RANGE = (-100, 100)


def inference_submit(
    *,
    user,
    prompt_ids: Sequence[str] | None = None,
    items: Sequence[Mapping[str, Any]] | None = None,
    params: Mapping[str, Any] | None = None,
    batch_name: str = "",
    priority: int = 0,
    dry_run: bool = False,
) -> Submission:
    """One transfer run per prompt; several runs form a batch (one batch id and name).

    The runs come from `prompt_ids` (one per distinct id) or from `items`, each
    `{"prompt_id": ..., **its own parameters}`: per-prompt weights, seed, steps... over the shared
    `params`. Runs whose global parameters (runs.params.BATCH_GLOBAL_KEYS) agree share one
    container, each with its own weights and inputs; a run with another seed or step count goes
    in a container of its own, still in the same batch. Everything is checked before anything
    is written: one bad entry refuses the whole submission, naming the entry.
    """
    requests = run_requests(prompt_ids=prompt_ids, items=items)
    batch_name = batch_name_clean(batch_name)
    priority = _priority(priority)
    prompts: dict[str, Prompt] = {}
    configs = []
    for request in requests:
        with entry_errors(request):
            if request.prompt_id not in prompts:
                prompts[request.prompt_id] = prompt_get(user=user, prompt_id=request.prompt_id)
                prompt_inputs_check(prompts[request.prompt_id])
            prompt = prompts[request.prompt_id]
            configs.append((prompt, inference_params_resolve(params_merge(params, request.params), prompt=prompt)))
    batch_id = new_batch_id() if len(requests) > 1 or batch_name else ""
    runs = [
        run_build(
            prompt=prompt,
            model_type=ModelType.TRANSFER,
            config=config,
            submitted_by=user,
            priority=priority,
            batch_id=batch_id,
            batch_name=batch_name,
        )
        for prompt, config in configs
    ]
    return _submit(runs, dry_run=dry_run, batch_id=batch_id, batch_name=batch_name)


def create_and_run(
    *,
    user,
    prompt_text: str,
    video_dir: str | Path | None = None,
    files: dict | None = None,
    name: str = "",
    negative_prompt: str = "",
    params: Mapping[str, Any] | None = None,
    batch_name: str = "",
    priority: int = 0,
) -> Submission:
    """Create a prompt and submit its inference in one call; the submission names the prompt.

    All or nothing: the run's parameters are checked against what the prompt will be before
    any video is read, and a bad video is refused before anything is stored, so a refused
    request leaves no prompt, no run and no file. The same prompt again is the existing one
    (with a new run). No dry run: a preview needs the videos stored; dry-run the prompt's
    inference once it exists.
    """
    negative = prompt_text_clean(negative_prompt, field="negative_prompt", required=False)
    would_be = Prompt(negative_prompt=negative or DEFAULT_NEGATIVE_PROMPT, parameters={})
    inference_params_resolve(params, prompt=would_be)
    batch_name = batch_name_clean(batch_name)
    priority = _priority(priority)
    # prompt_create commits on its own (its stored videos and its row appear together under the
    # inputs lock); should the submit still fail, the prompt it made is taken back below.
    prompt = prompt_create(
        user=user, prompt_text=prompt_text, video_dir=video_dir, files=files, name=name, negative_prompt=negative_prompt
    )
    try:
        submission = inference_submit(
            user=user, prompt_ids=[prompt.id], params=params, batch_name=batch_name, priority=priority
        )
    except BaseException:
        if prompt.was_created:
            _prompt_take_back(prompt)
        raise
    submission.prompt = prompt
    return submission


def _prompt_take_back(prompt: Prompt) -> None:
    """Undo a prompt this request created, with the videos it stored that nothing else uses."""
    sha256s = {info["sha256"] for info in prompt.inputs.values()}
    Prompt.objects.filter(pk=prompt.pk).delete()
    prompt_inputs_release(sha256s=sha256s)


def upscale_submit(
    *, user, run_id: str, weight: float | None = None, priority: int = 0, dry_run: bool = False
) -> Submission:
    """A 4K upscale of a completed inference run's output, as its own run linked to it."""
    parent = run_get(user=user, run_id=run_id)
    if parent.model_type != ModelType.TRANSFER:
        raise InvalidInput(f"Run {parent.id} is a {parent.model_type} run; only inference runs can be upscaled.")
    output = run_output_dir(parent) / "output.mp4"
    if parent.status != RunStatus.COMPLETED or not output.is_file():
        raise Conflict(
            f"Run {parent.id} is {parent.status}; upscale it once it has completed with an output video."
        )
    config = {
        "control_weight": upscale_weight_validate(weight),
        "num_steps": UPSCALE_NUM_STEPS,
        "parent_run_id": parent.id,
        "input_sha256": (parent.outputs or {}).get("files", {}).get("output.mp4", {}).get("sha256", ""),
    }
    run = run_build(
        prompt=parent.prompt,
        model_type=ModelType.UPSCALE,
        config=config,
        submitted_by=user,
        priority=_priority(priority),
        parent=parent,
        mergeable=False,  # the upscaler runs one video per container
    )
    return _submit([run], dry_run=dry_run)


def enhance_submit(
    *,
    user,
    prompt_ids: Sequence[str],
    overwrite: bool = False,
    resolution: int | None = None,
    priority: int = 0,
    dry_run: bool = False,
) -> Submission:
    """A prompt-enhancement run per prompt. On success it creates a new prompt linked to the
    original, or with `overwrite` replaces the original's text (refused for a prompt that has
    runs: their outputs were made from the old text). `resolution` scales the video's shorter
    side down to that many pixels before the upsampler sees it (e.g. 480)."""
    ids = list(dict.fromkeys(pid.strip() for pid in prompt_ids if pid and pid.strip()))
    if not ids:
        raise InvalidInput("Give at least one prompt id (ps_...).", field="prompt_ids")
    low, high = ENHANCE_RESOLUTION_RANGE
    if resolution is not None and (isinstance(resolution, bool) or not isinstance(resolution, int) or not low <= resolution <= high):
        raise InvalidInput(f"resolution must be a whole number of pixels from {low} to {high} (e.g. 480).", field="resolution")
    prompts = [prompt_get(user=user, prompt_id=pid) for pid in ids]
    for prompt in prompts:
        prompt_inputs_check(prompt)
        if overwrite and prompt.runs.exists():
            raise Conflict(
                f"Prompt {prompt.id} already has runs; enhance it without --overwrite to get a new prompt."
            )
    runs = [
        run_build(
            prompt=prompt,
            model_type=ModelType.ENHANCE,
            config={"mode": "overwrite" if overwrite else "new", **({"resolution": resolution} if resolution else {})},
            submitted_by=user,
            priority=_priority(priority),
        )
        for prompt in prompts
    ]
    return _submit(runs, dry_run=dry_run)


def run_cancel(*, user, run_id: str) -> Run:
    """Cancel a run. One that has not started is cancelled at once; a started one has its
    container killed, and is `cancelled` only once the container is confirmed gone (a run in a
    batch with others still running is dropped from the batch instead)."""
    run = run_get(user=user, run_id=run_id)
    if run.status in FINISHED_STATUSES:
        raise Conflict(f"Run {run.id} is already {run.status}; there is nothing to cancel.")
    note = f"Cancelled by {user.get_username()}."
    if run_transition(run.id, from_=NOT_STARTED, to=RunStatus.CANCELLED, error=note):
        dispatch_soon()
        return Run.objects.get(pk=run.pk)
    run_transition(run.id, from_=STARTED, to=RunStatus.CANCELLING, error=note)
    run.refresh_from_db()
    if run.status == RunStatus.CANCELLING:
        pipeline.job_stop_unwanted(run.job_id)
        run.refresh_from_db()
    return run


def run_retry(*, user, run_id: str, priority: int | None = None) -> Run:
    """A new pending run with the same parameters as a finished one."""
    old = run_get(user=user, run_id=run_id)
    if old.status not in FINISHED_STATUSES:
        raise Conflict(f"Run {old.id} is still {old.status}; cancel it or wait for it before retrying.")
    if old.model_type == ModelType.UPSCALE:
        return upscale_submit(
            user=user,
            run_id=old.execution_config.get("parent_run_id", ""),
            weight=old.execution_config.get("control_weight"),
            priority=old.priority if priority is None else priority,
        ).runs[0]
    run = run_build(
        prompt=old.prompt,
        model_type=old.model_type,
        config=dict(old.execution_config),
        submitted_by=user,
        priority=_priority(old.priority if priority is None else priority),
        batch_id=old.batch_id,
        batch_name=old.batch_name,
    )
    run.run_metadata["retry_of"] = old.id
    if old.model_type == ModelType.ENHANCE and run.execution_config.get("mode") == "overwrite":
        if old.prompt.runs.exclude(model_type=ModelType.ENHANCE).exists():
            raise Conflict(f"Prompt {old.prompt_id} has runs now; enhance it without --overwrite.")
    return _submit([run], dry_run=False).runs[0]


def host_kill(*, user, host_name: str | None = None) -> list[dict[str, Any]]:
    """Kill every Cosmos container on one host (or all enabled hosts); their runs become
    `cancelled` once the containers are confirmed gone. Staff only: it stops everyone's work."""
    _staff_only(user, "kill containers")
    targets = hosts.hosts_named(host_name)
    try:
        return [pipeline.host_kill_all(host, actor=user.get_username()) for host in targets]
    finally:
        for host in targets:
            live.forget(host)  # its containers have changed: the next status asks it afresh


def hosts_status(*, user, wait_for_all: bool = False) -> list[dict[str, Any]]:
    """Per host: GPU info, running containers, the active operations and the queue. What the hosts
    say is waited for as the settings say, or, with `wait_for_all`, until every host has answered."""
    return hosts.hosts_status(hosts.hosts_named(None, enabled_only=False), viewer=user, wait_for_all=wait_for_all)


def integrity_verify(*, user, fix: bool = False) -> integrity.Report:
    """Compare database and files; with `fix`, remove orphans and mark broken runs."""
    _staff_only(user, "verify every user's files")
    return integrity.verify(fix=fix)


def integrity_verify_start(*, user, fix: bool = False) -> str:
    """Queue `integrity_verify` for the task worker (it reads every output file: far too long for a
    page to wait on); the task's id, to follow with `selectors.integrity_checks`."""
    _staff_only(user, "verify every user's files")
    what = "check-and-fix" if fix else "check"
    return async_task("runs.tasks.integrity_task", fix, group=integrity.INTEGRITY_GROUP, task_name=f"cosmos-integrity-{what}")


def runs_reconcile(*, user) -> list[reconcile.Action]:
    """Look after jobs whose worker went quiet: re-attach, collect or fail them."""
    _staff_only(user, "reconcile runs")
    return reconcile.reconcile()


def prompt_delete(*, user, prompt_id: str, force: bool = False) -> None:
    """Delete a prompt, its runs, their output folders and the input videos no other prompt uses.

    Refused with Conflict while a run of the prompt is active, unless `force`, which cancels them
    first.
    """
    if force:
        prompt = prompt_get(user=user, prompt_id=prompt_id)
        for run in Run.objects.filter(prompt=prompt, status__in=ACTIVE_STATUSES):
            _cancel_quietly(user, run.id)
    with transaction.atomic():
        prompt = prompt_get(user=user, prompt_id=prompt_id)
        # Row lock (PostgreSQL): a run being submitted for this prompt waits for us, then fails
        # on the missing prompt, instead of being deleted unseen or outliving its prompt.
        prompt = Prompt.objects.select_for_update().get(pk=prompt.pk)
        runs = list(Run.objects.filter(prompt=prompt).only("id", "status"))
        active = [run for run in runs if run.status in ACTIVE_STATUSES]
        if active and not force:
            raise Conflict(
                f"Prompt {prompt.id} has {len(active)} active run(s) ({', '.join(r.id for r in active[:3])}): "
                "wait for them, cancel them, or delete with --force.",
                field="prompt_id",
            )
        output_dirs = [run_output_dir(run) for run in runs]
        sha256s = {info["sha256"] for info in prompt.inputs.values()}
        prompt.delete()  # its runs go with it (CASCADE)
        transaction.on_commit(lambda: _remove_files(output_dirs, sha256s))


def run_delete(*, user, run_id: str, force: bool = False) -> None:
    """Delete a run and its output folder. Refused with Conflict while the run is active, unless
    `force`, which cancels it first."""
    if force:
        _cancel_quietly(user, run_get(user=user, run_id=run_id).id)
    with transaction.atomic():
        run = run_get(user=user, run_id=run_id)
        run = Run.objects.select_for_update().get(pk=run.pk)  # its status cannot change under us
        if run.is_active and not force:
            raise Conflict(
                f"Run {run.id} is {run.status}: wait for it, cancel it, or delete with --force.", field="run_id"
            )
        output_dir = run_output_dir(run)
        run.delete()
        transaction.on_commit(lambda: _remove_files([output_dir], set()))


def _cancel_quietly(user, run_id: str) -> None:
    """Cancel before a forced delete; a run that finished meanwhile needs nothing."""
    try:
        run_cancel(user=user, run_id=run_id)
    except Conflict:
        pass  # already finished: nothing runs for it


def _submit(runs: list[Run], *, dry_run: bool, batch_id: str = "", batch_name: str = "") -> Submission:
    if dry_run:
        return Submission(
            runs=runs, dry_run=True, batch_id=batch_id, batch_name=batch_name, plan=plans.dry_run_plan(runs)
        )
    with transaction.atomic():
        Run.objects.bulk_create(runs)
        dispatch_soon()
    return Submission(runs=runs, batch_id=batch_id, batch_name=batch_name)


def _priority(value: Any) -> int:
    low, high = PRIORITY_RANGE
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(f"priority must be a whole number from {low} to {high} (got {value!r}).", field="priority")
    return value


def _staff_only(user, what: str) -> None:
    if not user.is_staff:
        raise NotAllowed(f"Only staff may {what}.")


def _remove_files(output_dirs, sha256s: set[str]) -> None:
    for folder in output_dirs:
        try:
            shutil.rmtree(folder)
        except FileNotFoundError:
            pass  # the run never produced outputs
        except OSError:
            logger.exception("Could not remove the output folder %s of a deleted run", folder)
    prompt_inputs_release(sha256s=sha256s)
