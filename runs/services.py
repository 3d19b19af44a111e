"""Run actions. For now: deleting a prompt with its runs, and deleting a run.

Deleting is database first, files after: rows go in one transaction, and only once it has
committed are the runs' output folders and the prompt's no-longer-used input videos removed. A
crash in between leaves files without rows (found by an integrity check), never rows without files.
"""

from __future__ import annotations

import logging
import shutil

from django.db import transaction

from prompts.errors import Conflict
from prompts.models import Prompt
from prompts.selectors import prompt_get
from prompts.services import prompt_inputs_release
from runs.models import ACTIVE_STATUSES, Run
from runs.selectors import run_get, run_output_dir

logger = logging.getLogger(__name__)


def prompt_delete(*, user, prompt_id: str, force: bool = False) -> None:
    """Delete a prompt, its runs, their output folders and the input videos no other prompt uses.

    Refused with Conflict while a run of the prompt is active, unless `force`.
    """
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
    """Delete a run and its output folder. Refused with Conflict while the run is active, unless `force`."""
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


def _remove_files(output_dirs, sha256s: set[str]) -> None:
    for folder in output_dirs:
        try:
            shutil.rmtree(folder)
        except FileNotFoundError:
            pass  # the run never produced outputs
        except OSError:
            logger.exception("Could not remove the output folder %s of a deleted run", folder)
    prompt_inputs_release(sha256s=sha256s)
