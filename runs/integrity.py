"""Integrity: do the database and the files agree?

Checks (each finding says what it is and what `--fix` does about it):
 - a completed run whose folder, output video or manifest is missing -> marked failed;
 - a file whose size or sha256 differs from its run's manifest -> run marked failed;
 - an output folder no run owns (run_<id> of a deleted run, a batch folder no job knows) -> removed;
 - a prompt whose input video is gone -> reported (only the user can bring the video back);
 - an input video no prompt uses, older than an hour -> removed (younger ones may belong to a
   prompt being created right now).

The pages run a check as a task of the worker (group INTEGRITY_GROUP); `recent_checks` reads
their reports back from django-q's task results.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from django.conf import settings
from django_q.models import Task

from prompts.models import Prompt
from prompts.selectors import prompt_input_paths
from prompts.services import prompt_inputs_release
from runs import reasons
from runs.models import Job, Run, RunStatus
from runs.outputs import MANIFEST, file_sha256, manifest_read, remove_tree
from runs.selectors import run_output_dir
from runs.transitions import run_transition

ORPHAN_INPUT_AGE = 3600
INTEGRITY_GROUP = "cosmos-integrity"


@dataclass
class Finding:
    kind: str  # missing_output | checksum_mismatch | orphan_folder | missing_input | orphan_input
    subject: str  # run id, prompt id or path
    detail: str
    fixed: str = ""  # what --fix did, empty when nothing (yet)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    checked_runs: int = 0
    checked_prompts: int = 0
    fixed: bool = False

    @property
    def ok(self) -> bool:
        return not self.findings

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "fixed": self.fixed,
            "checked_runs": self.checked_runs,
            "checked_prompts": self.checked_prompts,
            "findings": [finding.to_dict() for finding in self.findings],
        }


def verify(*, fix: bool = False) -> Report:
    report = Report(fixed=fix)
    for run in Run.objects.filter(status=RunStatus.COMPLETED).exclude(model_type="enhance").iterator():
        report.checked_runs += 1
        problem = _run_problem(run)
        if problem:
            kind, detail = problem
            finding = Finding(kind, run.id, detail)
            if fix and run_transition(
                run.id,
                from_=[RunStatus.COMPLETED],
                to=RunStatus.FAILED,
                failure_reason=reasons.INTEGRITY,
                error=f"Integrity check: {detail}",
            ):
                finding.fixed = "marked failed"
            report.findings.append(finding)
    report.findings += _orphan_folders(fix)
    used: set[str] = set()
    for prompt in Prompt.objects.iterator():
        report.checked_prompts += 1
        for role, path in prompt_input_paths(prompt).items():
            used.add(path.name)
            if not path.is_file():
                report.findings.append(
                    Finding("missing_input", prompt.id, f"Its {role} video {path.name} is gone; create the prompt again from the video.")
                )
    report.findings += _orphan_inputs(used, fix)
    return report


def _run_problem(run: Run) -> tuple[str, str] | None:
    folder = run_output_dir(run)
    if not folder.is_dir():
        return "missing_output", f"Its folder {folder.name} is missing."
    entries = manifest_read(folder)
    if entries is None:
        return "missing_output", f"Its folder has no {MANIFEST}."
    if "output.mp4" not in entries or not (folder / "output.mp4").is_file():
        return "missing_output", "Its output.mp4 is missing."
    for name, expected in entries.items():
        path = folder / name
        if not path.is_file():
            return "missing_output", f"{name} is listed in the manifest but missing."
        size = path.stat().st_size
        if size != expected["size"]:
            return "checksum_mismatch", f"{name} is {size:,} bytes, the manifest says {expected['size']:,}."
        if file_sha256(path) != expected["sha256"]:
            return "checksum_mismatch", f"{name} does not match its sha256 in the manifest."
    return None


def _orphan_folders(fix: bool) -> list[Finding]:
    root = settings.OUTPUTS_DIR
    if not root.is_dir():
        return []
    findings = []
    folders = [path for path in root.iterdir() if path.is_dir() and not path.name.startswith(".")]
    run_ids = set(Run.objects.values_list("id", flat=True))
    batch_folders = set(Job.objects.exclude(folder="").values_list("folder", flat=True))
    for folder in folders:
        name = folder.name
        orphan = (name.startswith("run_") and name[4:] not in run_ids) or (
            name.startswith("batch_") and name not in batch_folders
        )
        if orphan:
            finding = Finding("orphan_folder", _relative(folder), "No run or batch owns this output folder.")
            if fix:
                remove_tree(folder)
                finding.fixed = "removed"
            findings.append(finding)
    return findings


def _orphan_inputs(used: set[str], fix: bool) -> list[Finding]:
    root = settings.INPUTS_DIR
    if not root.is_dir():
        return []
    cutoff = time.time() - ORPHAN_INPUT_AGE
    orphans = {
        path.stem: path
        for path in root.glob("*.mp4")
        if path.name not in used and path.stat().st_mtime < cutoff
    }
    # The prompts app removes them: it re-checks, under its lock, that no prompt took one up.
    removed = set(prompt_inputs_release(sha256s=set(orphans))) if fix else set()
    return [
        Finding("orphan_input", _relative(path), "No prompt uses this input video.", "removed" if sha in removed else "")
        for sha, path in sorted(orphans.items())
    ]


def _relative(path: Path) -> str:
    """outputs/<folder> or inputs/<file>: where in the data dir it is."""
    return f"{path.parent.name}/{path.name}"


def recent_checks(limit: int = 5) -> list[dict]:
    """The checks the worker ran, newest first: when, whether it fixed, and its report (or why it failed)."""
    checks = []
    for task in Task.objects.filter(group=INTEGRITY_GROUP).order_by("-stopped")[:limit]:
        report = task.result if task.success and isinstance(task.result, dict) else None
        checks.append({
            "id": task.id,
            "fix": bool(task.args and task.args[0]),
            "started": task.started,
            "stopped": task.stopped,
            "report": report,
            # Only the exception's line: the traceback django-q keeps belongs in the worker's log.
            "error": "" if report else str(task.result).split(" : Traceback")[0].strip().splitlines()[0][:300],
        })
    return checks


def check_finished(task_id: str) -> bool:
    return Task.objects.filter(id=task_id).exists()
