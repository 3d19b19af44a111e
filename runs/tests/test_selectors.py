"""Reading runs: own runs for users, all for staff, filters that say when they are wrong, a stable dict."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from prompts.errors import InvalidInput, NotFound
from runs.models import Run, RunStatus
from runs.selectors import run_get, run_output_dir, run_to_dict, runs_for_user, runs_of_prompt

pytestmark = pytest.mark.django_db


def add_run(prompt, status=RunStatus.COMPLETED, **kwargs):
    return Run.objects.create(prompt=prompt, owner=prompt.owner, model_type=prompt.model_type, status=status, **kwargs)


@pytest.mark.parametrize("bad_id", ["", "rs", "ps_123", "rs_../x", "rs_" + "f" * 60, None])
def test_malformed_run_ids_are_not_found(alice, bad_id):
    with pytest.raises(NotFound, match="No run"):
        run_get(user=alice, run_id=bad_id)


def test_another_users_run_is_not_found_but_staff_see_it(alice, bob, staff, make_prompt):
    run = add_run(make_prompt(alice))
    assert run_get(user=alice, run_id=run.id) == run
    assert run_get(user=staff, run_id=run.id) == run
    with pytest.raises(NotFound, match=f"No run '{run.id}'"):
        run_get(user=bob, run_id=run.id)


def test_runs_for_user_filters(alice, bob, staff, make_prompt):
    first, second = make_prompt(alice), make_prompt(alice, model_type="enhance")
    done = add_run(first)
    failed = add_run(first, RunStatus.FAILED)
    enhancing = add_run(second, RunStatus.RUNNING)
    bobs = add_run(make_prompt(bob))

    def ids(**filters):
        return {run.id for run in runs_for_user(**filters).items}

    assert ids(user=alice) == {done.id, failed.id, enhancing.id}
    assert ids(user=bob) == {bobs.id}
    assert ids(user=staff) == {done.id, failed.id, enhancing.id, bobs.id}
    assert ids(user=alice, status="failed") == {failed.id}
    assert ids(user=alice, prompt_id=first.id) == {done.id, failed.id}
    assert ids(user=bob, prompt_id=first.id) == set()
    assert ids(user=alice, model_type="enhance") == {enhancing.id}
    assert ids(user=staff, owner="bob") == {bobs.id}
    with pytest.raises(InvalidInput, match="Unknown status 'done'"):
        runs_for_user(user=alice, status="done")


def test_runs_are_newest_first_with_exact_totals(alice, make_prompt):
    prompt = make_prompt(alice)
    runs = [add_run(prompt) for _ in range(5)]
    now = timezone.now()
    for age, run in enumerate(runs):
        Run.objects.filter(pk=run.pk).update(created_at=now - timedelta(minutes=age))
    page = runs_for_user(user=alice, limit=2, offset=1)
    assert [r.id for r in page.items] == [runs[1].id, runs[2].id] and page.total == 5
    assert [r.id for r in runs_of_prompt(user=alice, prompt=prompt)] == [r.id for r in runs]


def test_run_dict_is_json_and_stable(alice, make_prompt):
    started = timezone.now()
    run = add_run(make_prompt(alice), started_at=started, completed_at=started + timedelta(seconds=90))
    data = json.loads(json.dumps(run_to_dict(run)))
    assert data["id"] == run.id and data["owner"] == "alice" and data["duration_seconds"] == 90.0
    assert data["output_dir"] == str(settings.OUTPUTS_DIR / f"run_{run.id}")
    assert run_output_dir(run) == settings.OUTPUTS_DIR / f"run_{run.id}"
    assert list(data) == [
        "id", "prompt_id", "owner", "model_type", "status", "execution_config", "outputs", "run_metadata",
        "progress", "error", "failure_reason", "priority", "parent_id", "batch_id", "batch_name", "host", "job",
        "output_dir", "created_at", "updated_at", "queued_at", "uploading_at", "started_at", "downloading_at",
        "cancel_requested_at", "completed_at", "duration_seconds",
    ]


def test_a_page_of_run_dicts_is_run_to_dict_of_each_run_without_the_server_folder(alice, bob, staff, make_prompt):
    from gpu.models import GPUHost
    from runs.selectors import runs_for_user_as_dicts

    host = GPUHost.objects.create(name="gpu-1", transport="local")
    started = timezone.now()
    parent = add_run(make_prompt(alice), started_at=started, completed_at=started + timedelta(seconds=42), host=host,
                     job_id="batch_1", execution_config={"weights": {"vis": 0.5}}, progress={"percent": 100})
    Run.objects.filter(pk=add_run(parent.prompt, RunStatus.PENDING, parent=parent, batch_id="bt_1").pk).update(
        model_type="upscale", batch_name="b"
    )
    add_run(make_prompt(bob), RunStatus.FAILED, error="out of memory", failure_reason="out_of_memory")
    for user, filters in ((alice, {}), (staff, {}), (staff, {"status": "failed"}), (alice, {"model_type": "upscale"})):
        dicts = runs_for_user_as_dicts(user=user, **filters)
        models = runs_for_user(user=user, **filters)
        api_shape = [{key: value for key, value in run_to_dict(run).items() if key != "output_dir"} for run in models.items]
        assert dicts.items == api_shape and dicts.items
        assert list(dicts.items[0]) == list(api_shape[0])  # same keys, same order
        assert (dicts.total, dicts.total_exact) == (models.total, models.total_exact)
    with pytest.raises(InvalidInput):
        runs_for_user_as_dicts(user=alice, status="exploded")
