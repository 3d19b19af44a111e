"""Runs end to end against the simulator, over the real sshd and the local transport: outputs,
manifests, posters, logs, batches, upscale, enhance, named failures, cached uploads."""

import json
import time

import av
import pytest
from django.conf import settings

from gpu.executor import executor_for
from runs import services
from runs.dispatcher import dispatch
from runs.models import Job, JobState, Run, RunStatus
from runs.pipeline import JobRunner
from runs.outputs import manifest_read
from runs.selectors import run_output_dir
from prompts.samples import DEFAULT_HEIGHT as SCENE_HEIGHT
from prompts.samples import DEFAULT_WIDTH as SCENE_WIDTH
from prompts.testing import SCENE_FRAMES
from runs.tests.work import in_thread, wait_for, work_off

pytestmark = pytest.mark.django_db(transaction=True)


def video_facts(path):
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(video=0))
        return frames, stream.codec_context.width, stream.codec_context.height


def test_inference_end_to_end(alice, make_prompt, sim_host):
    prompt = make_prompt(alice)
    [run] = services.inference_submit(user=alice, prompt_ids=[prompt.id]).runs
    assert work_off() == ["completed"]
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED, run.error
    assert run.queued_at <= run.uploading_at <= run.started_at <= run.downloading_at <= run.completed_at
    assert run.progress["percent"] == 100
    folder = run_output_dir(run)
    names = {path.name for path in folder.iterdir()}
    assert {"output.mp4", "output.txt", "output.jpg", "spec.json", "execution.log", "manifest.txt"} <= names
    assert video_facts(folder / "output.mp4") == (SCENE_FRAMES, SCENE_WIDTH, SCENE_HEIGHT)
    manifest = manifest_read(folder)
    assert set(manifest) == names - {"manifest.txt"}
    assert manifest["output.mp4"]["size"] == (folder / "output.mp4").stat().st_size
    assert run.outputs["files"] == manifest
    log = (folder / "execution.log").read_text()
    assert "Loading ctrl model" in log and "Saved video to" in log
    assert log.count(f"[cosmos] job {run.job_id} started") == 1
    spec = json.loads((folder / "spec.json").read_text())["spec"]
    assert spec["prompt"] == prompt.prompt_text
    assert not Job.objects.exclude(state="done").exists()


def test_batch_outputs_land_in_each_runs_folder(alice, make_prompt, sim_host):
    prompts = [make_prompt(alice, f"street number {i}") for i in range(3)]
    submission = services.inference_submit(user=alice, prompt_ids=[p.id for p in prompts], batch_name="urban")
    assert work_off() == ["completed"]
    [job] = Job.objects.all()
    batch = settings.OUTPUTS_DIR / job.folder
    assert job.folder.startswith("batch_urban_")
    assert {p.name for p in batch.iterdir()} >= {"batch_spec.json", "batch.jsonl", "batch_run.log"}
    lines = (batch / "batch.jsonl").read_text().splitlines()
    for index, run in enumerate(submission.runs):
        run.refresh_from_db()
        assert run.status == RunStatus.COMPLETED, run.error
        folder = run_output_dir(run)
        assert (folder / "output.txt").read_text().strip() == json.loads(lines[index])["prompt"]
        assert manifest_read(folder)["output.mp4"]
        assert "Saved video to" in (folder / "execution.log").read_text()


def test_rerunning_a_prompt_uploads_no_video_bytes(alice, make_prompt, local_host):
    prompt = make_prompt(alice)
    services.inference_submit(user=alice, prompt_ids=[prompt.id])
    work_off()
    services.inference_submit(user=alice, prompt_ids=[prompt.id])
    work_off()
    first, second = Run.objects.order_by("created_at")
    assert first.run_metadata["upload"]["bytes"] > 0
    assert second.run_metadata["upload"] == {"files": 0, "bytes": 0, "cached": 3}
    assert second.status == RunStatus.COMPLETED


def test_upscale_end_to_end_is_four_times_the_size(alice, make_prompt, local_host):
    prompt = make_prompt(alice)
    [parent] = services.inference_submit(user=alice, prompt_ids=[prompt.id]).runs
    work_off()
    [run] = services.upscale_submit(user=alice, run_id=parent.id, weight=0.6).runs
    assert work_off() == ["completed"]
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED, run.error
    assert run.parent_id == parent.id
    assert video_facts(run_output_dir(run) / "output.mp4") == (SCENE_FRAMES, SCENE_WIDTH * 4, SCENE_HEIGHT * 4)


@pytest.mark.parametrize("overwrite", [False, True])
def test_enhance_end_to_end(alice, make_prompt, local_host, overwrite):
    prompt = make_prompt(alice, "a car")
    [run] = services.enhance_submit(user=alice, prompt_ids=[prompt.id], overwrite=overwrite).runs
    assert work_off() == ["completed"]
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED, run.error
    text = run.outputs["enhanced_text"]
    assert text and text != "a car"
    assert (run_output_dir(run) / "output.txt").read_text().strip() == text
    prompt.refresh_from_db()
    if overwrite:
        assert run.outputs["enhanced_prompt_id"] == prompt.id and prompt.prompt_text == text
    else:
        assert prompt.prompt_text == "a car"
        assert prompt.enhanced_versions.get().prompt_text == text


def test_enhance_at_a_lower_resolution_shows_the_upsampler_a_smaller_video(alice, make_prompt, local_host):
    prompt = make_prompt(alice, "a car")
    full, small = (services.enhance_submit(user=alice, prompt_ids=[prompt.id], resolution=r).runs[0] for r in (None, 96))
    assert set(work_off()) == {"completed"}  # one job: both enhancements share the model load
    full.refresh_from_db()
    small.refresh_from_db()
    assert full.job_id == small.job_id
    # The simulated upsampler names the size of the video it was given.
    assert f"{SCENE_WIDTH}x{SCENE_HEIGHT} footage" in full.outputs["enhanced_text"]
    assert f"{round(SCENE_WIDTH * 96 / SCENE_HEIGHT) // 2 * 2}x96 footage" in small.outputs["enhanced_text"]
    assert small.execution_config["resolution"] == 96 and "at 96p" in (run_output_dir(small) / "execution.log").read_text()


@pytest.mark.parametrize(
    "marker, reason",
    [
        ("oom", "out_of_memory"),
        ("checkpoint", "missing_checkpoint"),
        ("guardrail", "guardrail_blocked"),
        ("docker_start", "docker_start_failed"),
        ("crash", "crashed"),
    ],
)
def test_failures_are_named_and_keep_their_log(alice, make_prompt, local_host, marker, reason):
    if marker == "docker_start":  # docker fails before anything reads the prompt: inject it on the host
        local_host.sim_config = {**local_host.sim_config, "fail": "docker_start_failed"}
        local_host.save()
    prompt = make_prompt(alice, f"a city [sim:{marker}]")
    [run] = services.inference_submit(user=alice, prompt_ids=[prompt.id]).runs
    assert work_off() == ["failed"]
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert run.failure_reason == reason, run.error
    assert run.error
    log = (run_output_dir(run) / "execution.log").read_text()
    assert f"Run {run.id} failed" in log


def test_a_failed_video_in_a_batch_fails_only_its_run(alice, make_prompt, local_host):
    good = make_prompt(alice, "a quiet harbour")
    bad = make_prompt(alice, "a harbour [sim:guardrail]")
    submission = services.inference_submit(user=alice, prompt_ids=[good.id, bad.id])
    work_off()
    statuses = {run.prompt_id: run.status for run in Run.objects.filter(batch_id=submission.batch_id)}
    assert statuses[bad.id] == RunStatus.FAILED


def test_a_prefetched_job_takes_in_late_companions_and_starts_when_the_container_ahead_dies(
    alice, make_prompt, local_host, settings
):
    settings.COSMOS = {**settings.COSMOS, "PREFETCH_JOBS": 1}
    services.inference_submit(user=alice, prompt_ids=[make_prompt(alice, "a pier [sim:hang]").id])
    [waiting_run] = services.inference_submit(user=alice, prompt_ids=[make_prompt(alice).id], params={"seed": 2}).runs
    ahead, waiting = dispatch()
    with executor_for(local_host) as executor:
        # The first job's worker started its container and then died: nobody follows it.
        runner = JobRunner(ahead, ahead.lease)
        runner.ex = executor
        assert runner._stage() and runner._start()
        worker = in_thread(waiting)
        wait_for(lambda: Job.objects.get(pk=waiting.pk).state == JobState.READY, what="its upload")
        # A compatible run submitted now rides in the waiting job instead of needing a model load of its own.
        [late] = services.inference_submit(user=alice, prompt_ids=[make_prompt(alice).id], params={"seed": 2}).runs
        wait_for(lambda: Run.objects.get(pk=late.pk).status == RunStatus.UPLOADING, what="the late run to join")
        assert Job.objects.get(pk=waiting.pk).state == JobState.READY  # the GPU is taken: it waits
        executor.job_kill(ahead.name)
        worker.join(60)
        events = executor.transport.run(
            [*executor.docker.prefix, "events", "--since", "0", "--until", f"{time.time() + 1:.3f}",
             "--format", "{{.Action}} {{.Actor.Attributes.name}}"]
        ).stdout.splitlines()
    assert Job.objects.get(pk=ahead.pk).state == JobState.RUNNING  # its end was never recorded
    assert Job.objects.get(pk=waiting.pk).gpus == Job.objects.get(pk=ahead.pk).gpus == [0]  # the dead one's GPU
    for run in (waiting_run, late):
        run.refresh_from_db()
        assert run.status == RunStatus.COMPLETED and run.job_id == waiting.name, run.error
        assert (run_output_dir(run) / "output.mp4").exists()
    # One GPU, one container at a time: the second started only once the first had died.
    assert events == [f"start cosmos-{ahead.name}", f"die cosmos-{ahead.name}",
                      f"start cosmos-{waiting.name}", f"die cosmos-{waiting.name}"]
