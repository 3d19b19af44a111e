"""Deleting prompts and runs: refused while active unless forced, rows first, files after commit, shared videos kept."""

from __future__ import annotations

import pytest
from django.conf import settings

from prompts.errors import Conflict, NotFound
from prompts.models import Prompt
from prompts.samples import write_scene
from runs.models import Run, RunStatus
from runs.selectors import run_output_dir
from runs.services import prompt_delete, run_delete

pytestmark = pytest.mark.django_db


def add_run(prompt, status=RunStatus.COMPLETED):
    run = Run.objects.create(prompt=prompt, owner=prompt.owner, status=status)
    folder = run_output_dir(run)
    folder.mkdir(parents=True)
    (folder / "output.mp4").write_bytes(b"pretend video")
    return run


def stored(prompt):
    return [settings.INPUTS_DIR / f"{info['sha256']}.mp4" for info in prompt.inputs.values()]


def test_prompt_delete_removes_runs_outputs_and_unshared_videos(alice, make_prompt, scene_copy, django_capture_on_commit_callbacks):
    (scene_copy / "segmentation.mp4").unlink()
    write_scene(scene_copy / "other", frames=8)
    (scene_copy / "other" / "segmentation.mp4").rename(scene_copy / "segmentation.mp4")
    shared = make_prompt(alice, "keeps the color and depth videos")
    doomed = make_prompt(alice, "goes away", video_dir=scene_copy)
    only_doomed = set(stored(doomed)) - set(stored(shared))
    assert len(only_doomed) == 1 and all(path.exists() for path in stored(doomed))
    runs = [add_run(doomed), add_run(doomed, RunStatus.FAILED)]
    with django_capture_on_commit_callbacks(execute=True):
        prompt_delete(user=alice, prompt_id=doomed.id)
    assert not Prompt.objects.filter(pk=doomed.id).exists() and not Run.objects.exists()
    assert not any(run_output_dir(run).exists() for run in runs)
    assert not any(path.exists() for path in only_doomed)
    assert all(path.exists() for path in stored(shared))


def test_files_stay_until_the_transaction_commits(alice, make_prompt, scene_copy):
    (scene_copy / "depth.mp4").unlink()
    prompt = make_prompt(alice, video_dir=scene_copy)
    run = add_run(prompt)
    prompt_delete(user=alice, prompt_id=prompt.id)  # inside the test's transaction: no commit yet
    assert run_output_dir(run).exists() and all(path.exists() for path in stored(prompt))


@pytest.mark.parametrize("status", ["pending", "queued", "uploading", "running", "downloading", "cancelling"])
def test_prompt_with_an_active_run_is_kept_unless_forced(alice, make_prompt, status, django_capture_on_commit_callbacks):
    prompt = make_prompt(alice)
    active = add_run(prompt, status)
    with pytest.raises(Conflict, match=f"1 active run.*{active.id}.*--force"):
        prompt_delete(user=alice, prompt_id=prompt.id)
    assert Run.objects.filter(pk=active.pk).exists() and run_output_dir(active).exists()
    with django_capture_on_commit_callbacks(execute=True):
        prompt_delete(user=alice, prompt_id=prompt.id, force=True)
    assert not Prompt.objects.exists() and not run_output_dir(active).exists()


def test_other_users_cannot_delete_but_staff_can(alice, bob, staff, make_prompt):
    prompt = make_prompt(alice)
    run = add_run(prompt)
    with pytest.raises(NotFound):
        prompt_delete(user=bob, prompt_id=prompt.id)
    with pytest.raises(NotFound):
        run_delete(user=bob, run_id=run.id)
    assert Run.objects.filter(pk=run.pk).exists()
    run_delete(user=staff, run_id=run.id)
    prompt_delete(user=staff, prompt_id=prompt.id)
    assert not Prompt.objects.exists()


def test_unknown_or_malformed_ids_are_not_found(alice):
    for call in (
        lambda: prompt_delete(user=alice, prompt_id="ps_000000000000000000000000"),
        lambda: prompt_delete(user=alice, prompt_id="../../etc"),
        lambda: run_delete(user=alice, run_id="rs_00000000000000000000000000000000"),
        lambda: run_delete(user=alice, run_id="rs_x/../../y"),
    ):
        with pytest.raises(NotFound):
            call()


def test_run_delete_removes_its_folder_and_keeps_the_prompt(alice, make_prompt, django_capture_on_commit_callbacks):
    prompt = make_prompt(alice)
    keep, doomed = add_run(prompt), add_run(prompt)
    with django_capture_on_commit_callbacks(execute=True):
        run_delete(user=alice, run_id=doomed.id)
    assert list(Run.objects.values_list("id", flat=True)) == [keep.id]
    assert not run_output_dir(doomed).exists() and run_output_dir(keep).exists()
    assert all(path.exists() for path in stored(prompt))


def test_active_run_is_kept_unless_forced(alice, make_prompt):
    run = add_run(make_prompt(alice), RunStatus.RUNNING)
    with pytest.raises(Conflict, match="is running.*--force"):
        run_delete(user=alice, run_id=run.id)
    run_delete(user=alice, run_id=run.id, force=True)
    assert not Run.objects.exists()


def test_deleting_a_parent_run_keeps_its_upscale(alice, make_prompt):
    prompt = make_prompt(alice)
    parent = add_run(prompt)
    upscale = Run.objects.create(prompt=prompt, owner=alice, model_type="upscale", status="completed", parent=parent)
    run_delete(user=alice, run_id=parent.id)
    upscale.refresh_from_db()
    assert upscale.parent_id is None
