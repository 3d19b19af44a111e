"""Collecting a job whose container has ended: outputs home, each run finished.

The outputs are downloaded into a hidden staging folder on the outputs disk, split per run
(a batch's `video_<N>/` belongs to line N), moved into `outputs/run_<id>/` by rename, given
posters and a manifest (written last), and only then is the run `completed`. A run without its
output is `failed` with the reason read from the exit code and the log tail; its log stays.
Run again after a crash, every step here gives the same result.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings

from prompts.errors import DomainError
from prompts.models import ModelType
from prompts.services import prompt_create, prompt_text_replace
from runs import reasons
from runs.joblog import JobLogs
from runs.models import Run, RunStatus
from runs.outputs import (
    manifest_write,
    move_into,
    posters_write,
    remove_tree,
    staging_dir,
    write_text,
)
from runs.selectors import run_output_dir
from runs.transitions import run_transition

ENHANCE_RESULTS = "batch_results.json"


def job_collect(runner) -> None:
    """Finish every run of the runner's job, then the job itself."""
    job = runner.job
    run_transition(job.run_ids, from_=[RunStatus.CANCELLING], to=RunStatus.CANCELLED)
    run_transition(job.run_ids, from_=[RunStatus.RUNNING], to=RunStatus.DOWNLOADING)
    runs = runner.runs([RunStatus.DOWNLOADING])
    if runs:
        logs = JobLogs(job, runs)
        staging = staging_dir(job)
        try:
            if job.exit_code == 0 or job.folder or job.kind == ModelType.ENHANCE:
                # A batch that failed half way still has the videos it finished.
                runner.ex.job_download(job.name, staging)
            per_run = _split(job, runs, staging)
            for run in runs:
                _finish(run, per_run.get(run.id, {}), job, logs)
        finally:
            remove_tree(staging)
    runner.ex.job_remove(job.name)
    statuses = set(Run.objects.filter(id__in=job.run_ids).values_list("status", flat=True))
    outcome = "completed" if statuses == {RunStatus.COMPLETED} else "cancelled" if statuses == {RunStatus.CANCELLED} else "failed"
    runner.job_done(outcome)


def _split(job, runs: list[Run], staging: Path) -> dict[str, dict[str, Path]]:
    """{run id: {file name in the run folder: staged path}}."""
    if job.kind == ModelType.ENHANCE:
        return _enhance_results(runs, staging)
    if job.folder:
        split = {}
        for index, run in enumerate(runs):
            folder = staging / f"video_{index}"
            files = _files(folder)
            if "prompt.txt" in files:  # a batch names it prompt.txt; a run folder, output.txt
                files["output.txt"] = files.pop("prompt.txt")
            split[run.id] = files
        return split
    return {runs[0].id: _files(staging)}


def _files(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        return {}
    return {path.name: path for path in folder.iterdir() if path.is_file()}


def _enhance_results(runs: list[Run], staging: Path) -> dict[str, dict[str, Path]]:
    results_file = staging / ENHANCE_RESULTS
    if not results_file.is_file():
        return {}
    results = {item.get("name"): item for item in json.loads(results_file.read_text(encoding="utf-8"))}
    split = {}
    for run in runs:
        item = results.get(run.id)
        if item is None:
            continue
        path = staging / f"{run.id}.result.json"
        path.write_text(json.dumps(item, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        split[run.id] = {"enhance_result.json": path}
    return split


def _finish(run: Run, files: dict[str, Path], job, logs: JobLogs) -> None:
    folder = run_output_dir(run)
    if run.model_type == ModelType.ENHANCE:
        _finish_enhance(run, files, job, logs)
        return
    if "output.mp4" not in files:
        if job.exit_code == 0:
            code, message = reasons.named(reasons.NO_OUTPUT)
        else:
            code, message = reasons.container_failure(job.exit_code, logs.tail())
        _fail(run, code, message, logs)
        return
    move_into(files, folder)
    _complete(run, folder, main="output.mp4")


def _finish_enhance(run: Run, files: dict[str, Path], job, logs: JobLogs) -> None:
    result_path = files.get("enhance_result.json")
    result = json.loads(result_path.read_text(encoding="utf-8")) if result_path else None
    if not result or not result.get("success"):
        if result and result.get("error"):
            code, message = "enhance_failed", f"The prompt upsampler failed: {result['error']}"
        else:
            code, message = reasons.container_failure(job.exit_code, logs.tail())
        _fail(run, code, message, logs)
        return
    text = result["upsampled_prompt"]
    owner = run.owner
    try:
        if run.execution_config.get("mode") == "overwrite" and not run.prompt.runs.exclude(model_type=ModelType.ENHANCE).exists():
            prompt = prompt_text_replace(user=owner, prompt_id=run.prompt_id, prompt_text=text)
            mode = "overwrite"
        else:
            # Runs appeared on the prompt since submission: its text must stay; make a new prompt.
            prompt = prompt_create(user=owner, prompt_text=text, enhanced_from=run.prompt)
            mode = "new"
    except DomainError as error:
        _fail(run, "enhance_failed", f"The enhanced text could not be saved: {error.message}", logs)
        return
    folder = run_output_dir(run)
    move_into(files, folder)
    write_text(folder / "output.txt", text + "\n")
    _complete(run, folder, main="", extra={"enhanced_text": text, "enhanced_prompt_id": prompt.id, "mode": mode})


def _complete(run: Run, folder: Path, *, main: str, extra: dict | None = None) -> None:
    posters_write(folder)
    entries = manifest_write(folder)
    outputs = {
        "folder": folder.relative_to(settings.DATA_DIR).as_posix(),
        "files": entries,
        **({"video": main, "poster": Path(main).with_suffix(".jpg").name} if main else {}),
        **(extra or {}),
    }
    progress = {"stage": "completed", "label": "Completed", "percent": 100}
    if not run_transition(run.id, from_=[RunStatus.DOWNLOADING], to=RunStatus.COMPLETED, outputs=outputs, progress=progress):
        # Cancelled while its outputs came home: the user asked for it to stop; keep the files.
        run_transition(run.id, from_=[RunStatus.CANCELLING], to=RunStatus.CANCELLED, outputs=outputs)


def _fail(run: Run, code: str, message: str, logs: JobLogs) -> None:
    logs.note(f"Run {run.id} failed: {message}")
    if not run_transition(run.id, from_=[RunStatus.DOWNLOADING], to=RunStatus.FAILED, failure_reason=code, error=message):
        run_transition(run.id, from_=[RunStatus.CANCELLING], to=RunStatus.CANCELLED)
