"""Submitting runs: what is created, what a dry run shows, and every refusal (changing nothing)."""

import json

import pytest

from prompts.errors import Conflict, InvalidInput, NotFound
from prompts.models import Prompt
from runs import services
from runs.models import Run, RunStatus


@pytest.fixture
def prompt(alice, make_prompt):
    return make_prompt(alice)


def test_inference_creates_a_pending_run_with_resolved_parameters(alice, prompt):
    submission = services.inference_submit(user=alice, prompt_ids=[prompt.id], params={"weights": [0.5, 0.2, 0, 0]})
    [run] = submission.runs
    run = Run.objects.get(pk=run.pk)
    assert run.status == RunStatus.PENDING
    assert run.owner == alice and run.prompt == prompt
    assert run.execution_config["weights"] == {"vis": 0.5, "edge": 0.2, "depth": 0.0, "seg": 0.0}
    assert run.execution_config["num_steps"] == 35
    assert run.batch_id == "" and run.batch_key


def test_several_prompts_make_one_named_batch(alice, make_prompt):
    prompts = [make_prompt(alice, f"scene number {i}") for i in range(3)]
    submission = services.inference_submit(user=alice, prompt_ids=[p.id for p in prompts], batch_name="urban scenes")
    runs = Run.objects.filter(batch_id=submission.batch_id)
    assert runs.count() == 3
    assert {run.batch_name for run in runs} == {"urban scenes"}
    assert len({run.batch_key for run in runs}) == 1


def test_dry_run_shows_the_spec_and_creates_nothing(alice, prompt):
    submission = services.inference_submit(user=alice, prompt_ids=[prompt.id], dry_run=True)
    assert not Run.objects.exists()
    [job] = submission.plan
    assert job["kind"] == "inference"
    spec = job["spec"]
    color = prompt.inputs["color"]["sha256"]
    assert spec["input_video_path"] == f"cache/{color}.mp4"
    assert spec["depth"]["input_control"] == f"cache/{prompt.inputs['depth']['sha256']}.mp4"
    assert spec["prompt"] == prompt.prompt_text


def test_a_batch_dry_run_shows_the_jsonl_lines(alice, make_prompt):
    prompts = [make_prompt(alice, f"street {i}") for i in range(2)]
    submission = services.inference_submit(user=alice, prompt_ids=[p.id for p in prompts], dry_run=True)
    [job] = submission.plan
    assert job["kind"] == "batch"
    lines = [json.loads(line) for line in job["lines"].splitlines()]
    assert [line["prompt"] for line in lines] == [p.prompt_text for p in prompts]
    assert job["base_spec"]["num_steps"] == 35
    assert not Run.objects.exists()


def test_another_users_prompt_is_not_found_and_nothing_is_created(bob, prompt):
    with pytest.raises(NotFound):
        services.inference_submit(user=bob, prompt_ids=[prompt.id])
    assert not Run.objects.exists()


def test_staff_submits_for_the_prompts_owner(staff, alice, prompt):
    [run] = services.inference_submit(user=staff, prompt_ids=[prompt.id]).runs
    assert run.owner == alice
    assert run.run_metadata["submitted_by"] == staff.username


@pytest.mark.parametrize(
    "params, field",
    [({"weights": [0, 0, 0, 0]}, "weights"), ({"weights": [2, 0, 0, 0]}, "weights"), ({"num_steps": 0}, "num_steps")],
)
def test_bad_parameters_create_nothing(alice, prompt, params, field):
    with pytest.raises(InvalidInput) as error:
        services.inference_submit(user=alice, prompt_ids=[prompt.id], params=params)
    assert error.value.field == field
    assert not Run.objects.exists()


def test_one_unknown_prompt_refuses_the_whole_batch(alice, prompt):
    with pytest.raises(NotFound):
        services.inference_submit(user=alice, prompt_ids=[prompt.id, "ps_doesnotexist"])
    assert not Run.objects.exists()


def test_no_prompt_ids_is_refused(alice):
    with pytest.raises(InvalidInput):
        services.inference_submit(user=alice, prompt_ids=[])


def test_create_and_run_with_bad_weights_leaves_no_prompt(alice, scene_dir):
    with pytest.raises(InvalidInput):
        services.create_and_run(user=alice, prompt_text="a cat", video_dir=scene_dir, params={"weights": [0, 0, 0, 0]})
    assert not Prompt.objects.exists()


def test_create_and_run_makes_prompt_and_run(alice, scene_dir):
    submission = services.create_and_run(user=alice, prompt_text="a cat on a roof", video_dir=scene_dir, name="cat")
    [run] = submission.runs
    assert run.prompt.prompt_text == "a cat on a roof"
    assert Run.objects.filter(pk=run.pk, status=RunStatus.PENDING).exists()


def _finished(run, status, **fields):
    Run.objects.filter(pk=run.pk).update(status=status, **fields)
    run.refresh_from_db()
    return run


def test_upscale_needs_a_completed_inference_with_output(alice, prompt):
    [run] = services.inference_submit(user=alice, prompt_ids=[prompt.id]).runs
    with pytest.raises(Conflict) as error:
        services.upscale_submit(user=alice, run_id=run.id)
    assert "completed" in error.value.message
    _finished(run, RunStatus.COMPLETED)  # completed but its output.mp4 is missing
    with pytest.raises(Conflict):
        services.upscale_submit(user=alice, run_id=run.id)
    assert Run.objects.count() == 1


def test_upscale_of_an_upscale_is_refused(alice, prompt):
    [run] = services.inference_submit(user=alice, prompt_ids=[prompt.id]).runs
    Run.objects.filter(pk=run.pk).update(model_type="upscale")
    with pytest.raises(InvalidInput):
        services.upscale_submit(user=alice, run_id=run.id)


def test_upscale_of_another_users_run_is_not_found(alice, bob, prompt):
    [run] = services.inference_submit(user=alice, prompt_ids=[prompt.id]).runs
    with pytest.raises(NotFound):
        services.upscale_submit(user=bob, run_id=run.id)


def test_upscale_weight_out_of_range_is_refused(alice, prompt, settings, tmp_path):
    [run] = services.inference_submit(user=alice, prompt_ids=[prompt.id]).runs
    _finished(run, RunStatus.COMPLETED)
    folder = settings.OUTPUTS_DIR / f"run_{run.id}"
    folder.mkdir(parents=True)
    (folder / "output.mp4").write_bytes(b"x")
    with pytest.raises(InvalidInput):
        services.upscale_submit(user=alice, run_id=run.id, weight=1.5)
    [upscale] = services.upscale_submit(user=alice, run_id=run.id, weight=0.7).runs
    assert upscale.parent == run and upscale.model_type == "upscale"
    assert upscale.execution_config["control_weight"] == 0.7


def test_enhance_overwrite_is_refused_when_the_prompt_has_runs(alice, prompt):
    services.inference_submit(user=alice, prompt_ids=[prompt.id])
    with pytest.raises(Conflict):
        services.enhance_submit(user=alice, prompt_ids=[prompt.id], overwrite=True)
    [run] = services.enhance_submit(user=alice, prompt_ids=[prompt.id]).runs
    assert run.model_type == "enhance" and run.execution_config == {"mode": "new"}


@pytest.mark.parametrize("resolution", [10, 5000, 480.5, True, "480"])
def test_enhance_resolution_out_of_range_is_refused_and_creates_nothing(alice, prompt, resolution):
    with pytest.raises(InvalidInput, match="resolution must be a whole number of pixels from 64 to 4096"):
        services.enhance_submit(user=alice, prompt_ids=[prompt.id], resolution=resolution)
    assert not Run.objects.exists()


def test_enhance_dry_run_shows_the_resolution_in_the_upsampler_input(alice, prompt):
    submission = services.enhance_submit(user=alice, prompt_ids=[prompt.id], resolution=480, dry_run=True)
    [item] = submission.plan[0]["items"]
    assert item["resolution"] == 480 and not Run.objects.exists()


def test_cancel_of_a_pending_run_is_immediate(alice, prompt):
    [run] = services.inference_submit(user=alice, prompt_ids=[prompt.id]).runs
    run = services.run_cancel(user=alice, run_id=run.id)
    assert run.status == RunStatus.CANCELLED and run.completed_at
    assert "alice" in run.error


def test_cancel_of_a_finished_run_is_refused(alice, prompt):
    [run] = services.inference_submit(user=alice, prompt_ids=[prompt.id]).runs
    _finished(run, RunStatus.COMPLETED)
    with pytest.raises(Conflict):
        services.run_cancel(user=alice, run_id=run.id)


def test_bob_cannot_cancel_alices_run_but_staff_can(alice, bob, staff, prompt):
    [run] = services.inference_submit(user=alice, prompt_ids=[prompt.id]).runs
    with pytest.raises(NotFound):
        services.run_cancel(user=bob, run_id=run.id)
    assert Run.objects.get(pk=run.pk).status == RunStatus.PENDING
    assert services.run_cancel(user=staff, run_id=run.id).status == RunStatus.CANCELLED


def test_retry_repeats_the_parameters_of_a_finished_run(alice, prompt):
    [run] = services.inference_submit(user=alice, prompt_ids=[prompt.id], params={"seed": 9}).runs
    with pytest.raises(Conflict):
        services.run_retry(user=alice, run_id=run.id)
    _finished(run, RunStatus.FAILED)
    again = services.run_retry(user=alice, run_id=run.id)
    assert again.id != run.id and again.status == RunStatus.PENDING
    assert again.execution_config == run.execution_config
    assert again.run_metadata["retry_of"] == run.id


def test_delete_force_cancels_a_pending_run_first(alice, prompt):
    [run] = services.inference_submit(user=alice, prompt_ids=[prompt.id]).runs
    with pytest.raises(Conflict):
        services.run_delete(user=alice, run_id=run.id)
    services.run_delete(user=alice, run_id=run.id, force=True)
    assert not Run.objects.filter(pk=run.pk).exists()


def test_only_staff_verify_reconcile_and_kill(alice):
    from prompts.errors import NotAllowed

    for call in (services.integrity_verify, services.runs_reconcile, services.host_kill):
        with pytest.raises(NotAllowed):
            call(user=alice)


# Per-prompt parameters: a batch whose runs differ.


def _stored_inputs(settings) -> list:
    return sorted(settings.INPUTS_DIR.glob("*.mp4")) if settings.INPUTS_DIR.exists() else []


def test_each_entry_of_a_batch_runs_with_its_own_weights_in_one_container(alice, make_prompt):
    city, forest = make_prompt(alice, "a city"), make_prompt(alice, "a forest")
    entries = [
        {"prompt_id": city.id, "weights": {"vis": 0.6, "edge": 0.2}},
        {"prompt_id": forest.id, "weights": [0, 0, 0.5, 0.5]},
        {"prompt_id": city.id},  # the same prompt again: the shared weights
    ]
    submission = services.inference_submit(
        user=alice, items=entries, params={"weights": {"vis": 0.25}, "num_steps": 20}, batch_name="sweep"
    )
    runs = [Run.objects.get(pk=run.pk) for run in submission.runs]
    assert [run.prompt_id for run in runs] == [city.id, forest.id, city.id]
    assert [run.execution_config["weights"] for run in runs] == [
        {"vis": 0.6, "edge": 0.2, "depth": 0.0, "seg": 0.0},
        {"vis": 0.0, "edge": 0.0, "depth": 0.5, "seg": 0.5},
        {"vis": 0.25, "edge": 0.0, "depth": 0.0, "seg": 0.0},
    ]
    assert {run.execution_config["num_steps"] for run in runs} == {20}
    assert {run.batch_id for run in runs} == {submission.batch_id} and submission.batch_id
    assert len({run.batch_key for run in runs}) == 1  # weights are per line: one model load for all


def test_a_batch_dry_run_puts_each_entrys_weights_on_its_own_line(alice, make_prompt):
    city, forest = make_prompt(alice, "a city"), make_prompt(alice, "a forest")
    entries = [{"prompt_id": city.id, "weights": {"vis": 0.6}}, {"prompt_id": forest.id, "weights": {"edge": 0.4}}]
    [job] = services.inference_submit(user=alice, items=entries, dry_run=True).plan
    lines = [json.loads(line) for line in job["lines"].splitlines()]
    weights = [{key: value["control_weight"] for key, value in line["control_overrides"].items()} for line in lines]
    # A control the batch uses but a line does not is switched off on that line.
    assert weights == [{"vis": 0.6, "edge": 0.0}, {"vis": 0.0, "edge": 0.4}]
    assert not Run.objects.exists()


def test_entries_with_another_seed_go_in_containers_of_their_own(alice, make_prompt):
    city, forest = make_prompt(alice, "a city"), make_prompt(alice, "a forest")
    entries = [{"prompt_id": city.id, "seed": 1}, {"prompt_id": forest.id, "seed": 2}]
    submission = services.inference_submit(user=alice, items=entries, dry_run=True)
    assert [job["kind"] for job in submission.plan] == ["inference", "inference"]
    assert [job["spec"]["seed"] for job in submission.plan] == [1, 2]
    assert len({run.batch_id for run in submission.runs}) == 1


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ({"weights": {"vis": 0}}, "prompts.1.weights"),
        ({"num_steps": 500}, "prompts.1.num_steps"),
        ({"glow": 1}, "prompts.1.glow"),
        ({"prompt_id": ""}, "prompts.1.prompt_id"),
    ],
)
def test_one_bad_entry_refuses_the_batch_naming_the_entry(alice, make_prompt, entry, field):
    good, other = make_prompt(alice, "a city"), make_prompt(alice, "a forest")
    with pytest.raises(InvalidInput) as error:
        services.inference_submit(user=alice, items=[{"prompt_id": good.id}, {"prompt_id": other.id, **entry}])
    assert error.value.field == field
    assert not Run.objects.exists()


def test_an_entry_with_another_users_prompt_is_not_found(alice, bob, make_prompt):
    alices, bobs = make_prompt(alice, "alice's"), make_prompt(bob, "bob's")
    with pytest.raises(NotFound) as error:
        services.inference_submit(user=alice, items=[{"prompt_id": alices.id}, {"prompt_id": bobs.id}])
    assert error.value.field == "prompts.1.prompt_id"
    assert not Run.objects.exists()
    [run] = services.inference_submit(user=bob, items=[{"prompt_id": bobs.id, "seed": 3}]).runs
    assert run.owner == bob and run.execution_config["seed"] == 3


def test_ids_and_entries_together_are_refused(alice, prompt):
    with pytest.raises(InvalidInput):
        services.inference_submit(user=alice, prompt_ids=[prompt.id], items=[{"prompt_id": prompt.id}])
    with pytest.raises(InvalidInput):
        services.inference_submit(user=alice, items=[])
    assert not Run.objects.exists()


# Create-and-run: all or nothing.


@pytest.mark.parametrize(
    "bad", [{"params": {"num_steps": 0}}, {"priority": 1000}, {"batch_name": "../x"}, {"negative_prompt": "n" * 20_000}]
)
def test_create_and_run_with_a_bad_run_parameter_keeps_no_prompt_and_no_file(alice, scene_dir, settings, bad):
    with pytest.raises(InvalidInput):
        services.create_and_run(user=alice, prompt_text="a cat", video_dir=scene_dir, **bad)
    assert not Prompt.objects.exists() and not Run.objects.exists()
    assert _stored_inputs(settings) == []


def test_create_and_run_with_a_broken_video_keeps_nothing(alice, scene_copy, settings):
    (scene_copy / "color.mp4").write_bytes(b"not a video")
    with pytest.raises(InvalidInput):
        services.create_and_run(user=alice, prompt_text="a cat", video_dir=scene_copy)
    assert not Prompt.objects.exists() and _stored_inputs(settings) == []


@pytest.mark.django_db(transaction=True)
def test_create_and_run_takes_the_prompt_back_when_the_run_cannot_be_saved(alice, scene_dir, settings):
    """The database refuses the run's INSERT (a real failure, injected with Django's own hook for
    wrapping queries): the prompt that was just made and its stored videos go too."""

    class Refused(Exception):
        pass

    def refuse_runs(execute, sql, params, many, context):
        if sql.startswith('INSERT INTO "runs_run"'):
            raise Refused("the database is gone")
        return execute(sql, params, many, context)

    from django.db import connection

    with connection.execute_wrapper(refuse_runs), pytest.raises(Refused):
        services.create_and_run(user=alice, prompt_text="a cat on a wall", video_dir=scene_dir)
    assert not Prompt.objects.exists() and not Run.objects.exists()
    assert _stored_inputs(settings) == []


def test_create_and_run_of_an_existing_prompt_adds_a_run_and_keeps_the_prompt(alice, scene_dir):
    first = services.create_and_run(user=alice, prompt_text="a cat on a roof", video_dir=scene_dir)
    again = services.create_and_run(user=alice, prompt_text="a cat on a roof", video_dir=scene_dir, params={"seed": 5})
    assert first.prompt.was_created and not again.prompt.was_created
    assert again.prompt.id == first.prompt.id and Run.objects.filter(prompt=first.prompt).count() == 2
