"""The run commands of `manage.py cosmos` (runs/run_cli.py): what people and scripts see, and
refusals as one line."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from prompts.models import Prompt
from runs.models import Run, RunStatus


def cosmos(*args) -> str:
    out = StringIO()
    call_command("cosmos", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def prompt(alice, make_prompt):
    return make_prompt(alice)


def test_inference_dry_run_prints_the_spec_and_creates_nothing(alice, prompt):
    data = json.loads(cosmos("inference", prompt.id, "--weights", "0.3", "0.3", "0.2", "0.2", "--dry-run", "--json", "--user", "alice"))
    assert data["dry_run"] is True
    assert data["plan"][0]["spec"]["vis"] == {"control_weight": 0.3}
    assert not Run.objects.exists()


def test_inference_creates_runs_and_says_how_to_follow(alice, prompt, tmp_path):
    ids = tmp_path / "ids.txt"
    ids.write_text(f"{prompt.id}  # the ball\n\n")
    text = cosmos("inference", "--prompts-file", str(ids), "--num-steps", "20", "--batch-name", "b1", "--user", "alice")
    run = Run.objects.get()
    assert run.id in text and "status --stream" in text
    assert run.execution_config["num_steps"] == 20 and run.batch_name == "b1"


def test_bad_input_is_one_clear_line(alice, bob, prompt):
    with pytest.raises(CommandError, match="At least one control weight"):
        cosmos("inference", prompt.id, "--weights", "0", "0", "0", "0", "--user", "alice")
    with pytest.raises(CommandError, match="No prompt"):
        cosmos("inference", prompt.id, "--user", "bob")
    with pytest.raises(CommandError, match="Cannot read the prompts file"):
        cosmos("inference", "--prompts-file", "/nonexistent/ids.txt", "--user", "alice")
    with pytest.raises(CommandError, match="No run"):
        cosmos("upscale", "rs_nosuchrun", "--user", "alice")
    assert not Run.objects.exists()


def test_cancel_and_retry(alice, prompt):
    cosmos("inference", prompt.id, "--user", "alice")
    run = Run.objects.get()
    assert "cancelled" in cosmos("cancel", run.id, "--user", "alice")
    with pytest.raises(CommandError, match="already cancelled"):
        cosmos("cancel", run.id, "--user", "alice")
    data = json.loads(cosmos("retry", run.id, "--json", "--user", "alice"))
    assert data["status"] == "pending" and data["run_metadata"]["retry_of"] == run.id


def test_show_lists_a_prompts_runs(alice, prompt):
    cosmos("inference", prompt.id, "--user", "alice")
    data = json.loads(cosmos("show", prompt.id, "--json", "--user", "alice"))
    assert [run["status"] for run in data["runs"]] == ["pending"]


def test_staff_commands_refuse_other_users(alice):
    for args in (("verify",), ("reconcile",), ("kill", "--force")):
        with pytest.raises(CommandError, match="Only staff"):
            cosmos(*args, "--user", "alice")


def test_kill_without_force_asks_and_refuses_without_a_terminal(admin_user):
    with pytest.raises(CommandError, match="--force"):
        cosmos("kill")


def test_verify_and_reconcile_report(admin_user):
    assert json.loads(cosmos("verify", "--json"))["ok"] is True
    assert "Every active job has a live worker" in cosmos("reconcile")


def test_status_stream_without_an_active_run_says_so(alice):
    with pytest.raises(CommandError, match="No run of yours is active"):
        cosmos("status", "--stream", "--user", "alice")


@pytest.mark.django_db(transaction=True)
def test_status_shows_hosts_gpus_and_queue(admin_user, local_host):
    [host] = json.loads(cosmos("status", "--json"))
    assert host["host"] == local_host.name and host["simulated"]
    assert "cosmos-sim" in host["gpus"][0]["name"]
    text = cosmos("status")
    assert local_host.name in text and "queue:" in text


@pytest.mark.django_db(transaction=True)
def test_inference_wait_runs_to_the_end_and_the_run_can_be_shown_and_streamed(alice, bob, make_prompt, local_host, monkeypatch):
    prompt = make_prompt(alice)
    monkeypatch.setattr("django_q.conf.Conf.SYNC", True)  # the worker's tasks run inline
    data = json.loads(cosmos("inference", prompt.id, "--wait", "--json", "--user", "alice"))
    [run] = data["runs"]
    assert run["status"] == RunStatus.COMPLETED
    assert run["outputs"]["video"] == "output.mp4"
    text = cosmos("show", prompt.id, "--user", "alice")
    assert "completed" in text
    run_id = run["id"]
    shown = cosmos("show", run_id, "--user", "alice")
    for part in (run_id, prompt.id, "completed", "num_steps=35", "output.mp4", "execution.log", "manifest.txt"):
        assert part in shown
    data = json.loads(cosmos("show", run_id, "--json", "--user", "alice"))
    assert data["id"] == run_id and "output.mp4" in {item["name"] for item in data["files"]}
    assert shown.rstrip().endswith(f"-> {data['output_dir']}/output.mp4")
    streamed = cosmos("status", "--stream", run_id, "--user", "alice")
    assert "final args" in streamed and f"{run_id} ended: completed" in streamed
    for args in (("show", run_id), ("status", "--stream", run_id)):
        with pytest.raises(CommandError, match=f"No run '{run_id}'"):
            cosmos(*args, "--user", "bob")


def test_a_prompts_file_line_may_carry_its_own_parameters(alice, make_prompt, tmp_path):
    city, forest = make_prompt(alice, "a city"), make_prompt(alice, "a forest")
    lines = tmp_path / "batch.jsonl"
    lines.write_text(
        f"# a weight sweep\n{city.id}\n"
        + json.dumps({"prompt_id": city.id, "weights": {"vis": 0.9}, "negative_prompt": "no #hashtags"}) + "\n"
        + json.dumps({"prompt_id": forest.id, "weights": [0, 0, 0.5, 0.5], "seed": 8}) + "\n"
    )
    data = json.loads(cosmos("inference", "--prompts-file", str(lines), "--weights", "0.2", "0.2", "0.2", "0.2",
                             "--num-steps", "12", "--json", "--user", "alice"))
    runs = {run["id"]: run for run in data["runs"]}
    configs = [runs[run_id]["execution_config"] for run_id in data["run_ids"]]
    assert [c["weights"]["vis"] for c in configs] == [0.2, 0.9, 0.0]
    assert [c["seed"] for c in configs] == [1, 1, 8] and {c["num_steps"] for c in configs} == {12}
    assert configs[1]["negative_prompt"] == "no #hashtags"
    assert len({runs[r]["batch_id"] for r in data["run_ids"]}) == 1


def test_a_bad_prompts_file_line_is_one_clear_line(alice, prompt, tmp_path):
    lines = tmp_path / "batch.jsonl"
    lines.write_text(f'{prompt.id}\n{{"prompt_id": "{prompt.id}", "weights": {{"vis": 0}}}}\n')
    with pytest.raises(CommandError, match="prompts.1"):
        cosmos("inference", "--prompts-file", str(lines), "--user", "alice")
    lines.write_text('{"prompt_id": \n')
    with pytest.raises(CommandError, match="line 1: not valid JSON"):
        cosmos("inference", "--prompts-file", str(lines), "--user", "alice")
    assert not Run.objects.exists()


def test_create_prompt_and_run_in_one_command(alice, scene_dir):
    text = cosmos("inference", "--create-prompt", "A tram in the rain", "--video-dir", str(scene_dir),
                  "--name", "tram", "--seed", "5", "--user", "alice")
    run = Run.objects.get()
    assert run.prompt.name == "tram" and run.prompt.owner == alice and run.execution_config["seed"] == 5
    assert f"Created prompt {run.prompt.id}" in text and run.id in text


def test_create_and_run_refusals_leave_nothing(alice, prompt, scene_dir):
    Run.objects.all().delete()
    count = Prompt.objects.count()
    with pytest.raises(CommandError, match="At least one control weight"):
        cosmos("inference", "--create-prompt", "A tram", "--video-dir", str(scene_dir),
               "--weights", "0", "0", "0", "0", "--user", "alice")
    with pytest.raises(CommandError, match="needs --video-dir"):
        cosmos("inference", "--create-prompt", "A tram", "--user", "alice")
    with pytest.raises(CommandError, match="dry run"):
        cosmos("inference", "--create-prompt", "A tram", "--video-dir", str(scene_dir), "--dry-run", "--user", "alice")
    with pytest.raises(CommandError, match="no prompt ids"):
        cosmos("inference", prompt.id, "--create-prompt", "A tram", "--video-dir", str(scene_dir), "--user", "alice")
    assert Prompt.objects.count() == count and not Run.objects.exists()
