"""DockerExecutor on a simulated host, over SSH (real sshd) and locally: jobs, logs, outputs, failures."""

from __future__ import annotations

import hashlib
import json
import subprocess
import threading
import time

import av
import numpy as np
import pytest

from gpu import nvidia
from gpu.errors import DockerStartFailed, JobAlreadyRunning, JobIdInvalid, JobNotFound, TransferFailed
from gpu.executor import executor_for
from gpu.sim import video

STAGES = [
    "final args:",
    "Loading ctrl model from ckpt_path:",
    "running preprocessor",
    "Running batch generation with batch_size=1",
    "Running guardrail checks on all prompts",
    "Starting T5 compute",
    "Completed T5 compute",
    "Run generation",
    "Starting diffusion sampling",
    "Completed diffusion sampling",
    "Starting VAE decode",
    "Completed VAE decode",
    "Finish generation",
    "Run guardrail on generated videos",
    "Saved video to",
    "Saved prompt to",
]


@pytest.fixture
def executor(sim_host):
    with executor_for(sim_host) as ex:
        yield ex


@pytest.fixture
def clip(tmp_path):
    return video.write_test_video(tmp_path / "color.mp4", frames=6, width=64, height=48)


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def start_inference(ex, job_id, clip, *, prompt="a city at night", weights=None, num_steps=4):
    ex.job_prepare(job_id)
    cached = ex.cache_put(clip, sha256(clip))
    spec = nvidia.inference_spec(prompt=prompt, negative_prompt="blurry", input_video=cached,
                                 weights=weights or {"vis": 0.3, "depth": 0.2}, num_steps=num_steps)
    return ex.inference_start(job_id, spec)


def follow(ex, job_id, offset=0) -> list[str]:
    return [line for _, line in ex.job_log_follow(job_id, offset)]


def first_frame(path) -> np.ndarray:
    with av.open(str(path)) as container:
        return next(container.decode(video=0)).to_ndarray(format="rgb24")


def test_inference_makes_a_playable_output_the_size_of_its_input(executor, clip, tmp_path):
    start_inference(executor, "run-1", clip, num_steps=5)
    lines = follow(executor, "run-1")
    state = executor.job_state("run-1")
    assert (state.running, state.exit_code, state.exists) == (False, 0, True)
    assert executor.job_failure("run-1") is None

    positions = [next(i for i, line in enumerate(lines) if stage in line) for stage in STAGES]
    assert positions == sorted(positions), "the stages come in the reference's order"
    assert sum("Generating samples:" in line for line in lines) == 5  # one progress line per step
    assert "|INFO|cosmos_transfer1/diffusion/inference/transfer.py:187:parse_arguments] final args:" in lines[1]

    assert executor.job_outputs("run-1") == ["depth_input_control_0.mp4", "output.mp4", "output.txt",
                                             "vis_input_control_0.mp4"]
    files = {p.name: p for p in executor.job_download("run-1", tmp_path / "out")}
    made, source = video.probe(files["output.mp4"]), video.probe(clip)
    assert (made.frames, made.width, made.height) == (source.frames, source.width, source.height)
    assert files["output.txt"].read_text() == "a city at night"


def test_a_batch_loads_the_model_once_and_writes_one_folder_per_line(executor, clip, tmp_path):
    executor.job_prepare("batch-1")
    cached = executor.cache_put(clip, sha256(clip))
    items = [{"prompt": "a snowy street", "input_video": cached, "weights": {"vis": 0.3, "edge": 0.2}},
             {"prompt": "a desert road", "input_video": cached, "weights": {"vis": 0.5}}]
    base = nvidia.batch_base_spec(items, negative_prompt="blurry", num_steps=3)
    executor.batch_start("batch-1", base, nvidia.batch_jsonl(items))
    lines = follow(executor, "batch-1")
    assert executor.job_state("batch-1").exit_code == 0
    assert sum("Loading ctrl model" in line for line in lines) == 2  # vis and edge, once for the batch
    assert {"video_0/output.mp4", "video_0/prompt.txt", "video_1/output.mp4", "video_1/prompt.txt"} <= set(
        executor.job_outputs("batch-1"))
    files = {p.relative_to(tmp_path / "out").as_posix(): p for p in executor.job_download("batch-1", tmp_path / "out")}
    assert files["video_1/prompt.txt"].read_text() == "a desert road"
    # Different prompts and weights give visibly different videos from the same input.
    difference = np.abs(first_frame(files["video_0/output.mp4"]).astype(int) - first_frame(files["video_1/output.mp4"]))
    assert difference.mean() > 10


def test_upscale_makes_the_video_four_times_larger(executor, clip, tmp_path):
    executor.job_prepare("up-1")
    cached = executor.cache_put(clip, sha256(clip))
    executor.upscale_start("up-1", nvidia.upscale_spec(input_video=cached, weight=0.5))
    lines = follow(executor, "up-1")
    assert executor.job_state("up-1").exit_code == 0
    assert sum("Generating samples:" in line for line in lines) == 10  # --num_steps 10
    [output] = [p for p in executor.job_download("up-1", tmp_path / "out") if p.name == "output.mp4"]
    info = video.probe(output)
    assert (info.frames, info.width, info.height) == (6, 256, 192)


def test_enhance_writes_batch_results_with_an_upsampled_prompt(executor, clip, tmp_path):
    executor.job_prepare("enh-1")
    cached = executor.cache_put(clip, sha256(clip))
    executor.enhance_start("enh-1", nvidia.enhance_input([{"name": "ps_1", "prompt": "a red car", "video_path": cached}]))
    lines = follow(executor, "enh-1")
    assert executor.job_state("enh-1").exit_code == 0
    assert any("Upsampled prompt: a red car." in line for line in lines)
    [results] = executor.job_download("enh-1", tmp_path / "out")
    [item] = nvidia.parse_batch_results(results.read_text())
    assert item["success"] and item["upsampled_prompt"].startswith("a red car.") and item["name"] == "ps_1"


def test_following_resumes_from_an_offset_on_a_new_connection(sim_host, clip):
    with executor_for(sim_host) as first:
        start_inference(first, "resume-1", clip, num_steps=30)
        seen, offset = [], 0
        for offset, line in first.job_log_follow("resume-1"):
            seen.append(line)
            if len(seen) == 4:
                break  # the worker goes away mid-job
    with executor_for(sim_host) as second:
        rest = follow(second, "resume-1", offset)
        full = second.transport.read_text(second.remote("jobs/resume-1/job.log")).splitlines()
    assert seen + rest == full
    assert rest[-1].endswith("ended with exit code 0")


@pytest.mark.parametrize(("mode", "evidence"), [
    ("out_of_memory", "torch.OutOfMemoryError: CUDA out of memory"),
    ("missing_checkpoint", "FileNotFoundError: [Errno 2] No such file or directory: "
                           "'./checkpoints/nvidia/Cosmos-Transfer1-7B/base_model.pt'"),
    ("guardrail_blocked", "|CRITICAL|"),
    ("crashed", "RuntimeError: CUDA error: an illegal memory access was encountered"),
])
def test_injected_failures_end_with_their_exit_code_log_and_reason(executor, clip, mode, evidence):
    start_inference(executor, f"fail-{mode}", clip, prompt=f"a harbour [sim:{mode}]")
    log = "\n".join(follow(executor, f"fail-{mode}"))
    state = executor.job_state(f"fail-{mode}")
    assert state.exit_code == 1
    assert evidence in log
    assert executor.job_failure(f"fail-{mode}").code == mode
    assert "output.mp4" not in executor.job_outputs(f"fail-{mode}")
    # The job script wrote its completion marker although the job failed.
    assert executor.transport.read_text(executor.remote(f"jobs/fail-{mode}/exit_code")) == "1\n"


def test_the_stand_in_rejects_a_bad_spec_like_cosmos(executor, clip):
    executor.job_prepare("spec-1")
    cached = executor.cache_put(clip, sha256(clip))
    executor.inference_start("spec-1", {"prompt": "x", "input_video_path": cached, "sharpness": {"control_weight": 1}})
    log = "\n".join(follow(executor, "spec-1"))
    assert executor.job_state("spec-1").exit_code == 1
    assert "ValueError: Invalid hint_key: sharpness" in log
    assert executor.job_failure("spec-1").code == "bad_spec"


def test_a_docker_start_failure_is_125_with_dockers_words_and_no_container(make_ssh_host, make_local_host, clip, request):
    for make in (make_ssh_host, make_local_host):
        host = make(sim_config={"load_seconds": 0.1, "step_seconds": 0.01, "fail_jobs": {"start-1": "docker_start"}})
        with executor_for(host) as ex:
            with pytest.raises(DockerStartFailed) as exc:
                start_inference(ex, "start-1", clip)
            assert exc.value.exit_code == 125 and "nvidia-container-cli" in exc.value.stderr
            state = ex.job_state("start-1")
            assert (state.running, state.exit_code) == (False, 125)
            assert ex.job_failure("start-1").code == "docker_start_failed"
            assert "Error response from daemon" in "\n".join(follow(ex, "start-1"))
            assert "cosmos-start-1" not in {c.name for c in ex.containers(all=True)}


def test_a_hung_job_is_killed_with_137_and_its_log_ends(executor, clip):
    start_inference(executor, "hang-1", clip, prompt="a tunnel [sim:hang]", num_steps=6)
    lines = executor.job_log_follow("hang-1")
    for _, line in lines:
        if "Generating samples:" in line:
            break  # it is inside sampling, where it will hang
    assert executor.job_state("hang-1").running
    assert [c.name for c in executor.containers()] == ["cosmos-hang-1"]
    assert executor.job_kill("hang-1") is True
    list(lines)  # the follow ends once the container is gone
    assert executor.job_state("hang-1").exit_code == 137
    assert executor.job_failure("hang-1").code == "killed"
    assert executor.job_kill("hang-1") is False  # already dead
    assert executor.job_wait("hang-1") == 137


def test_awaiting_a_jobs_end_wakes_when_the_container_dies(executor, clip):
    start_inference(executor, "wait-1", clip, prompt="a pier [sim:hang]")
    assert executor.job_await_end("wait-1", seconds=0.3) is None  # still running after 0.3 s
    killer = threading.Timer(0.5, executor.job_kill, args=("wait-1",))
    began = time.monotonic()
    killer.start()
    assert executor.job_await_end("wait-1", seconds=30) == 137
    assert time.monotonic() - began < 10  # woken by the death, not by the 30 s limit
    killer.join()
    assert executor.job_await_end("wait-1", seconds=30) == 137  # an ended job answers at once
    with pytest.raises(JobNotFound):
        executor.job_await_end("never-started", seconds=30)


def test_container_lives_say_when_each_container_ran_after_it_is_gone(executor, clip):
    before = time.time()
    start_inference(executor, "life-1", clip, num_steps=2)
    assert executor.job_wait("life-1", poll=0.1) == 0
    executor.job_remove("life-1")
    lives = executor.container_lives(since=before, until=time.time() + 1)
    assert before < lives["cosmos-life-1"]["start"] < lives["cosmos-life-1"]["die"] < time.time()
    assert executor.container_lives(since=time.time() + 1, until=time.time() + 2) == {}


def test_a_reader_that_goes_away_leaves_no_follower_on_the_host(executor, clip):
    start_inference(executor, "gone-1", clip, prompt="a lake [sim:hang]")
    lines = executor.job_log_follow("gone-1")
    next(lines)
    job_dir = executor.remote("jobs/gone-1")
    pattern = f"follow_log.py {job_dir}"
    assert subprocess.run(["pgrep", "-f", pattern], capture_output=True).returncode == 0
    lines.close()  # over SSH the follower sees end-of-file on its stdin and stops
    deadline = time.monotonic() + 5
    while subprocess.run(["pgrep", "-f", pattern], capture_output=True).returncode == 0:
        assert time.monotonic() < deadline, "the follower outlived its reader"
        time.sleep(0.05)
    executor.job_kill("gone-1")


def test_kill_all_stops_every_cosmos_container_by_label_and_by_image(executor, clip):
    start_inference(executor, "many-1", clip, prompt="one [sim:hang]")
    # A container of the Cosmos image started by hand (no label) counts as Cosmos work too.
    executor.transport.run(executor.docker.run(image=executor.image, name="by-hand", command=["sleep", "60"],
                                               volumes=[(executor.remote_dir, "/workspace")], workdir="/workspace"))
    assert {c.name for c in executor.containers()} == {"cosmos-many-1", "by-hand"}
    assert sorted(executor.kill_all()) == ["by-hand", "cosmos-many-1"]
    assert executor.containers() == []


def test_a_running_job_cannot_be_started_again_or_removed_without_force(executor, clip):
    start_inference(executor, "busy-1", clip, prompt="x [sim:hang]")
    with pytest.raises(JobAlreadyRunning):
        start_inference(executor, "busy-1", clip)
    with pytest.raises(JobAlreadyRunning):
        executor.job_remove("busy-1")
    executor.job_remove("busy-1", force=True)
    assert not executor.transport.exists(executor.remote("jobs/busy-1"))
    assert executor.job_state("busy-1").exists is False


def test_a_finished_job_can_run_again_under_the_same_id(executor, clip):
    start_inference(executor, "again-1", clip, num_steps=2)
    assert executor.job_wait("again-1", poll=0.2) == 0
    start_inference(executor, "again-1", clip, num_steps=2)
    assert executor.job_wait("again-1", poll=0.2) == 0


@pytest.mark.parametrize("bad", ["", ".", "..", "../etc", "a b", "x" * 81, "a/b", "-rf"])
def test_job_ids_are_validated(executor, bad):
    if bad == "-rf":  # valid characters: accepted, and harmless because every path and name is quoted
        assert executor.job_paths(bad).root == "jobs/-rf"
        return
    with pytest.raises(JobIdInvalid):
        executor.job_prepare(bad)


def test_cache_put_uploads_once_and_refuses_a_wrong_hash(executor, clip):
    calls = []
    first = executor.cache_put(clip, sha256(clip), on_progress=lambda done, total: calls.append(done))
    assert first == f"cache/{sha256(clip)}.mp4" and calls
    calls.clear()
    assert executor.cache_put(clip, sha256(clip), on_progress=lambda done, total: calls.append(done)) == first
    assert calls == []  # already there: nothing sent
    with pytest.raises(TransferFailed):
        executor.cache_put(clip, "0" * 64)
    assert sorted(executor.transport.list_files(executor.remote("cache"))) == [f"{sha256(clip)}.mp4"]


def test_scripts_are_uploaded_when_missing_or_changed(sim_host):
    with executor_for(sim_host) as ex:
        assert "inference.sh" in ex.scripts_sync()
        assert ex.scripts_sync() == []  # once per executor
        ex.transport.write_text(ex.remote("scripts/inference.sh"), "tampered\n")
    with executor_for(sim_host) as ex:
        assert ex.scripts_sync() == ["inference.sh"]
        assert "job_main" in ex.transport.read_text(ex.remote("scripts/inference.sh"))
        config = json.loads(ex.transport.read_text(ex.remote(".cosmos-sim/config.json")))
        assert config == sim_host.sim_config


def test_gpu_info_and_disk_free(executor):
    [gpu] = executor.gpu_info()
    assert gpu.simulated and gpu.memory_total_mb == 81559 and gpu.cuda_version == "12.8"
    disk = executor.disk_free()
    assert 0 < disk.free_bytes <= disk.total_bytes
