"""Benchmark: 12 runs over 2 simulated GPU hosts, our queue against the seed's way, in one run.

    python bench/queue_makespan.py [--runs 12] [--load 3] [--steps 10] [--step-seconds 0.2]

Each run is a model load of LOAD seconds plus STEPS diffusion steps (the simulator's pace, real
time). Three ways, on the same two hosts:

 - the seed's way: per host, one run after the other, each its own container: upload its
   videos, start, wait, download; nothing overlapped, nothing batched;
 - ours, compatible runs: 12 submits with the same parameters; a real `manage.py qcluster`
   dispatches and runs them (batches share one model load, uploads overlap the GPU);
 - ours, mixed runs: every run a different seed, so nothing can be batched; what is left is
   the pipeline: the next job's inputs upload while the GPU works, it starts when the slot frees.

For each: the makespan (first submit to last run finished) and, per host, the share of the
makespan during which a container was running (from starting `docker run` to the end of its
log). The goal: every host >= 90%. Not part of the test suite.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file shares its name with the standard library's `queue`: keep bench/ off the import path.
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != HERE]

import argparse  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
DATA_DIR = Path(tempfile.mkdtemp(prefix="cosmos-bench-queue-"))
ENV = {
    "DJANGO_SETTINGS_MODULE": "cosmosproject.settings",
    "COSMOS_DATA_DIR": str(DATA_DIR),
    "COSMOS_SMART_NAMES": "0",
    "COSMOS_Q_WORKERS": "6",  # two hosts x (one running + one prefetching) + dispatch tasks
}
os.environ.update(ENV)
os.environ.pop("DATABASE_URL", None)  # SQLite in the temp data dir: the laptop setup

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402

from gpu import nvidia  # noqa: E402
from gpu.executor import executor_for  # noqa: E402
from gpu.models import GPUHost  # noqa: E402
from prompts.samples import write_scene  # noqa: E402
from prompts.selectors import prompt_input_paths  # noqa: E402
from prompts.services import prompt_create  # noqa: E402
from runs.models import FINISHED_STATUSES, Job, Run, RunStatus  # noqa: E402
from runs.services import inference_submit  # noqa: E402


def hosts_make(args) -> list[GPUHost]:
    pace = {"load_seconds": args.load, "step_seconds": args.step_seconds}
    hosts = []
    for name in ("gpu-a", "gpu-b"):
        remote = DATA_DIR / f"{name}-remote"
        remote.mkdir()
        hosts.append(
            GPUHost.objects.create(
                name=name, transport="local", remote_dir=str(remote), docker_cmd="docker", simulated=True, sim_config=pace
            )
        )
    return hosts


def busy_share(intervals: dict[str, list[tuple[float, float]]], start: float, end: float) -> dict[str, float]:
    """Per host, the part of [start, end] covered by its container intervals."""
    shares = {}
    for host, spans in intervals.items():
        covered, reach = 0.0, start
        for a, b in sorted(spans):
            a, b = max(a, reach), min(b, end)
            if b > a:
                covered += b - a
                reach = b
        shares[host] = covered / (end - start)
    return shares


# ---- the seed's way ----------------------------------------------------------------------------


def seed_way(prompts, hosts, args) -> tuple[float, dict[str, float]]:
    intervals: dict[str, list[tuple[float, float]]] = {host.name: [] for host in hosts}
    work = {host.name: prompts[index :: len(hosts)] for index, host in enumerate(hosts)}

    def one_host(host: GPUHost) -> None:
        with executor_for(host) as executor:
            for number, prompt in enumerate(work[host.name]):
                job = f"seed-{host.name}-{number}"
                executor.job_prepare(job)
                remote = {}
                for role, path in prompt_input_paths(prompt).items():  # uploaded again for every run
                    target = f"runs/{job}/{role}.mp4"
                    executor.transport.mkdir_p(executor.remote(f"runs/{job}"))
                    executor.transport.put(path, executor.remote(target))
                    remote[role] = target
                spec = nvidia.inference_spec(
                    prompt=prompt.prompt_text,
                    negative_prompt=prompt.negative_prompt,
                    input_video=remote["color"],
                    weights={"vis": 0.25, "edge": 0.25, "depth": 0.25, "seg": 0.25},
                    control_inputs={"depth": remote["depth"], "seg": remote["segmentation"]},
                    num_steps=args.steps,
                )
                started = time.monotonic()
                executor.inference_start(job, spec)
                executor.job_wait(job, poll=0.05)
                intervals[host.name].append((started, time.monotonic()))
                executor.job_download(job, DATA_DIR / "seed-outputs" / job)

    start = time.monotonic()
    threads = [threading.Thread(target=one_host, args=(host,)) for host in hosts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    end = time.monotonic()
    return end - start, busy_share(intervals, start, end)


# ---- ours --------------------------------------------------------------------------------------


def qcluster_start() -> subprocess.Popen:
    env = {**os.environ, **ENV}
    return subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "qcluster"],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def ours(user, prompts, args, *, mixed: bool) -> tuple[float, dict[str, float], int]:
    Run.objects.all().delete()
    Job.objects.all().delete()
    wall_minus_mono = time.time() - time.monotonic()
    start = time.monotonic()
    for index, prompt in enumerate(prompts):
        params = {"num_steps": args.steps, "seed": index if mixed else 1}
        inference_submit(user=user, prompt_ids=[prompt.id], params=params)
    while Run.objects.exclude(status__in=FINISHED_STATUSES).exists():
        time.sleep(0.05)
    end = time.monotonic()
    failed = Run.objects.exclude(status=RunStatus.COMPLETED).count()
    if failed:
        raise SystemExit(f"{failed} run(s) did not complete: {list(Run.objects.values_list('error', flat=True))[:3]}")
    intervals: dict[str, list[tuple[float, float]]] = {}
    for job in Job.objects.exclude(started_at=None).select_related("host"):
        span = (job.started_at.timestamp() - wall_minus_mono, job.ended_at.timestamp() - wall_minus_mono)
        intervals.setdefault(job.host.name, []).append(span)
    return end - start, busy_share(intervals, start, end), Job.objects.exclude(started_at=None).count()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=12)
    parser.add_argument("--load", type=float, default=3.0, help="model load seconds per container")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--step-seconds", type=float, default=0.2)
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user("bench")
    scene = write_scene(DATA_DIR / "scene", frames=24, width=160, height=96)["color"].parent
    prompts = [
        prompt_create(user=user, prompt_text=f"A red ball bounces down street number {i}", video_dir=scene, name=f"p{i}")
        for i in range(args.runs)
    ]
    hosts = hosts_make(args)
    per_run = args.load + args.steps * args.step_seconds
    print(f"{args.runs} runs over {len(hosts)} simulated hosts; each run: model load {args.load:g} s "
          f"+ {args.steps} steps x {args.step_seconds:g} s = {per_run:g} s of GPU work")

    for host in hosts:  # install the simulator once, before threads would race to do it
        with executor_for(host) as executor:
            executor.scripts_sync()
    seed_makespan, seed_busy = seed_way(prompts, hosts, args)
    cluster = qcluster_start()
    try:
        time.sleep(3)  # the cluster's workers start
        results = [("seed's way (one container per run, in turn)", seed_makespan, seed_busy, args.runs)]
        for label, mixed in (("ours, compatible runs (batched)", False), ("ours, mixed runs (prefetch only)", True)):
            makespan, busy, jobs = ours(user, prompts, args, mixed=mixed)
            results.append((label, makespan, busy, jobs))
    finally:
        os.killpg(cluster.pid, signal.SIGKILL)  # all its work is done; q2's own shutdown is slow
        cluster.wait()

    print(f"{'':46} {'containers':>10} {'makespan':>9} {'GPU busy per host':>20} {'vs seed':>8}")
    for label, makespan, busy, jobs in results:
        shares = " ".join(f"{share:5.1%}" for share in busy.values())
        print(f"{label:46} {jobs:>10} {makespan:8.1f}s {shares:>20} {seed_makespan / makespan:7.2f}x")
    worst = min(min(busy.values()) for _, _, busy, _ in results[1:])
    print(f"lowest GPU-busy share of our runs: {worst:.1%} (goal >= 90%)")


if __name__ == "__main__":
    main()
