"""`cosmos list runs`, `show`, `delete prompt`, `delete run`: tables, --json, and the owner rule."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from prompts.models import Prompt
from runs.models import Run, RunStatus

pytestmark = pytest.mark.django_db


def cosmos(*args) -> str:
    out = StringIO()
    call_command("cosmos", *[str(a) for a in args], stdout=out)
    return out.getvalue()


def add_run(prompt, status=RunStatus.COMPLETED):
    return Run.objects.create(prompt=prompt, owner=prompt.owner, status=status)


def test_list_runs_with_filters_and_json(alice, bob, make_prompt):
    prompt = make_prompt(alice)
    done, failed = add_run(prompt), add_run(prompt, RunStatus.FAILED)
    bobs = add_run(make_prompt(bob))
    table = cosmos("list", "runs", "--user", "alice")
    assert done.id in table and failed.id in table and bobs.id not in table and "Runs (2)" in table
    data = json.loads(cosmos("list", "runs", "--user", "alice", "--status", "failed", "--json"))
    assert [item["id"] for item in data["items"]] == [failed.id] and data["items"][0]["status"] == "failed"
    data = json.loads(cosmos("list", "runs", "--user", "alice", "--prompt", prompt.id, "--limit", "1", "--json"))
    assert (len(data["items"]), data["total"]) == (1, 2)
    assert "No runs match." in cosmos("list", "runs", "--user", "bob", "--prompt", prompt.id)
    with pytest.raises(CommandError, match="Unknown status 'done'"):
        cosmos("list", "runs", "--user", "alice", "--status", "done")


def test_list_runs_of_a_batch_with_its_summary(alice, bob, make_prompt):
    prompt = make_prompt(alice)
    batch = {"batch_id": "bt_00aa11bb22cc33dd", "batch_name": "night"}
    done = Run.objects.create(prompt=prompt, owner=alice, status=RunStatus.COMPLETED, **batch)
    Run.objects.create(prompt=prompt, owner=alice, status=RunStatus.COMPLETED, **batch)
    add_run(prompt)
    text = cosmos("list", "runs", "--batch", "night", "--user", "alice")
    assert "Batch night: 2 run(s): 2 completed (finished)" in text and done.id in text and "Runs (2)" in text
    data = json.loads(cosmos("list", "runs", "--batch", "bt_00aa11bb22cc33dd", "--json", "--user", "alice"))
    assert data["total"] == 2 and data["batch"]["by_status"] == {"completed": 2} and data["batch"]["finished"]
    data = json.loads(cosmos("list", "runs", "--batch", "night", "--json", "--user", "bob"))
    assert data["total"] == 0 and data["batch"] is None


def test_show_prints_the_prompt_its_videos_and_runs(alice, make_prompt):
    prompt = make_prompt(alice, "A futuristic city at night")
    run = add_run(prompt)
    page = cosmos("show", prompt.id, "--user", "alice")
    for part in (prompt.id, "A futuristic city at night", "color", "320x176", "Runs (1)", run.id, "completed"):
        assert part in page
    data = json.loads(cosmos("show", prompt.id, "--user", "alice", "--json"))
    assert data["id"] == prompt.id and [r["id"] for r in data["runs"]] == [run.id]
    assert set(data["inputs"]) == {"color", "depth", "segmentation"}


def test_nobody_sees_or_deletes_another_users_prompt(alice, bob, make_prompt):
    prompt = make_prompt(alice)
    run = add_run(prompt)
    for args in (
        ("show", prompt.id),
        ("show", prompt.id, "--json"),
        ("delete", "prompt", prompt.id, "--force"),
        ("delete", "run", run.id, "--force"),
    ):
        with pytest.raises(CommandError, match="No (prompt|run) '"):
            cosmos(*args, "--user", "bob")
    assert Prompt.objects.filter(pk=prompt.id).exists() and Run.objects.filter(pk=run.id).exists()


def test_delete_prompt_and_run(alice, make_prompt):
    prompt, other = make_prompt(alice), make_prompt(alice)
    add_run(prompt)
    out = cosmos("delete", "prompt", prompt.id, "--user", "alice")
    assert out.strip() == f"Deleted prompt {prompt.id} and 1 run(s)."
    run = add_run(other)
    assert json.loads(cosmos("delete", "run", run.id, "--user", "alice", "--json")) == {"deleted": run.id}
    assert json.loads(cosmos("delete", "prompt", other.id, "--user", "alice", "--json")) == {
        "deleted": other.id,
        "runs_deleted": 0,
    }
    assert not Prompt.objects.exists()


def test_delete_refuses_active_work_unless_forced(alice, make_prompt):
    prompt = make_prompt(alice)
    run = add_run(prompt, RunStatus.RUNNING)
    with pytest.raises(CommandError, match="active run"):
        cosmos("delete", "prompt", prompt.id, "--user", "alice")
    with pytest.raises(CommandError, match="is running"):
        cosmos("delete", "run", run.id, "--user", "alice")
    cosmos("delete", "prompt", prompt.id, "--user", "alice", "--force")
    assert not Run.objects.exists()


def test_without_user_the_only_superuser_acts(admin_user, alice, make_prompt):
    mine = make_prompt(admin_user)
    theirs = make_prompt(alice)
    listed = cosmos("list", "prompts")
    assert mine.id in listed and theirs.id in listed  # a superuser is staff: sees everyone's
