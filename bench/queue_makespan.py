"""Benchmark: 12 runs over 2 simulated GPU hosts, our queue against the seed's way, in one run.

    python bench/queue_makespan.py [--runs 12] [--load 3] [--steps 10] [--step-seconds 0.2] [--timeline]

Each run is a model load of LOAD seconds plus STEPS diffusion steps (the simulator's pace, real
time). Three ways, on the same two hosts:

 - the seed's way: per host, one run after the other, each its own container: upload its
   videos, start, wait, download; nothing overlapped, nothing batched;
 - ours, compatible runs: 12 submits with the same parameters; a real `manage.py qcluster`
   dispatches and runs them (batches share one model load, uploads overlap the GPU);
 - ours, mixed runs: every run a different seed, so nothing can be batched; what is left is
   the pipeline: the next job's inputs upload while the GPU works, it starts when the slot frees.

For each: the makespan (first submit to last run finished) and, per host, the share of the
makespan during which a container held the GPU: from the moment `docker run` is issued to the
container's death as the host's `docker events` records it (not when a worker noticed). The
goal: every host >= 90%. A second table leaves out only the start-up before the first
container anywhere and the wind-down after the last one, and says how long each took.
`--timeline` prints each job's claim, upload, start, death and finish. Not part of the test suite.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
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
from django_q.tasks import async_task, result  # noqa: E402

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


@dataclass
class Result:
    label: str
    start: float  # first submit
    end: float  # last run finished
    intervals: dict[str, list[tuple[float, float]]]  # per host: `docker run` issued -> container died
    lives: dict[str, dict[str, float]]  # per container: its own start and die events

    @property
    def makespan(self) -> float:
        return self.end - self.start

    @property
    def busy(self) -> dict[str, float]:
        return busy_share(self.intervals, self.start, self.end)

    @property
    def gpu_window(self) -> tuple[float, float]:
        """From the first `docker run` on any host to the last container death on any host.
        Before it no GPU can work (the first job must be claimed and its inputs uploaded);
        after it only the last outputs come home. A host starting late or ending early still
        counts against its share inside the window."""
        return (min(a for spans in self.intervals.values() for a, _ in spans),
                max(b for spans in self.intervals.values() for _, b in spans))

    @property
    def container_seconds(self) -> float:
        """How long a container lived on average: the simulated GPU work shares the CPU with
        whatever else runs, so this tells a slower pipeline from slower containers."""
        return sum(life["die"] - life["start"] for life in self.lives.values()) / len(self.lives)


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


def container_lives(hosts, since: float, until: float) -> dict[str, dict[str, float]]:
    """Per container name, when it started and died (unix seconds): the hosts' own `docker
    events`, not the moment a worker got round to noticing. Refuses to go on when a host ran
    more containers at once than it has slots: a share would hide that."""
    lives: dict[str, dict[str, float]] = {}
    for host in hosts:
        with executor_for(host) as executor:
            found = executor.container_lives(since=since, until=until + 1)
        changes = sorted([(life["start"], 1) for life in found.values()] + [(life["die"], -1) for life in found.values()])
        running = 0
        for _, change in changes:
            running += change
            if running > host.slots:
                raise SystemExit(f"{host.name} ran {running} containers at once: the queue broke its slot limit")
        lives.update(found)
    return lives


# ---- the seed's way ----------------------------------------------------------------------------


def seed_way(prompts, hosts, args) -> Result:
    started: dict[str, list[tuple[str, float]]] = {host.name: [] for host in hosts}
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
                started[host.name].append((executor.container_name(job), time.time()))
                executor.inference_start(job, spec)
                executor.job_wait(job, poll=0.05)
                executor.job_download(job, DATA_DIR / "seed-outputs" / job)

    start = time.time()
    threads = [threading.Thread(target=one_host, args=(host,)) for host in hosts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    end = time.time()
    lives = container_lives(hosts, start, end)
    intervals = {host: [(at, lives[name]["die"]) for name, at in spans] for host, spans in started.items()}
    return Result("seed's way (one container per run, in turn)", start, end, intervals, lives)


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


def cluster_wait_ready() -> None:
    """Wait until the cluster runs tasks: a deployment's cluster is up before users submit, so
    its start-up (slow on a loaded machine) is no part of a makespan."""
    began = time.monotonic()
    probe = async_task("runs.tasks.dispatch_task")
    while result(probe) is None:
        time.sleep(0.05)
    print(f"task queue ready after {time.monotonic() - began:.1f} s")


def ours(user, prompts, hosts, args, *, mixed: bool) -> Result:
    Run.objects.all().delete()
    Job.objects.all().delete()
    start = time.time()
    for index, prompt in enumerate(prompts):
        params = {"num_steps": args.steps, "seed": index if mixed else 1}
        inference_submit(user=user, prompt_ids=[prompt.id], params=params)
    while Run.objects.exclude(status__in=FINISHED_STATUSES).exists():
        time.sleep(0.05)
    end = time.time()
    failed = Run.objects.exclude(status=RunStatus.COMPLETED).count()
    if failed:
        raise SystemExit(f"{failed} run(s) did not complete: {list(Run.objects.values_list('error', flat=True))[:3]}")
    lives = container_lives(hosts, start, end)
    jobs = list(Job.objects.exclude(started_at=None).select_related("host").order_by("host__name", "id"))
    intervals: dict[str, list[tuple[float, float]]] = {}
    for job in jobs:
        span = (job.started_at.timestamp(), lives[f"cosmos-{job.name}"]["die"])
        intervals.setdefault(job.host.name, []).append(span)
    if args.timeline:
        timeline_print(jobs, lives, start)
    label = "ours, mixed runs (prefetch only)" if mixed else "ours, compatible runs (batched)"
    return Result(label, start, end, intervals, lives)


def timeline_print(jobs: list[Job], lives: dict[str, dict[str, float]], start: float) -> None:
    """Per job, seconds since the first submit: claimed, its upload began, `docker run` issued,
    container died (docker's clock), its worker saw the end, job done."""

    def at(stamp) -> str:
        seconds = stamp if isinstance(stamp, float) else stamp.timestamp() if stamp else None
        return f"{seconds - start:6.2f}" if seconds is not None else "     -"

    for job in jobs:
        upload = Run.objects.filter(id__in=job.run_ids).order_by("uploading_at").first().uploading_at
        print(f"  {job.host.name} {len(job.run_ids):2} run(s): claimed {at(job.created_at)}  upload {at(upload)}"
              f"  docker run {at(job.started_at)}  died {at(lives[f'cosmos-{job.name}']['die'])}"
              f"  seen {at(job.ended_at)}  done {at(job.finished_at)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=12)
    parser.add_argument("--load", type=float, default=3.0, help="model load seconds per container")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--step-seconds", type=float, default=0.2)
    parser.add_argument("--timeline", action="store_true", help="print when each job was claimed, started, ended")
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
    seed = seed_way(prompts, hosts, args)
    cluster = qcluster_start()
    try:
        cluster_wait_ready()
        results = [seed, *(ours(user, prompts, hosts, args, mixed=mixed) for mixed in (False, True))]
    finally:
        os.killpg(cluster.pid, signal.SIGKILL)  # all its work is done; q2's own shutdown is slow
        cluster.wait()

    print(f"{'':44} {'containers':>10} {'each':>6} {'makespan':>9} {'GPU busy per host':>18} {'vs seed':>8}")
    for way in results:
        shares = " ".join(f"{share:5.1%}" for share in way.busy.values())
        print(f"{way.label:44} {len(way.lives):>10} {way.container_seconds:5.1f}s {way.makespan:8.1f}s "
              f"{shares:>18} {seed.makespan / way.makespan:7.2f}x")
    worst = min(min(way.busy.values()) for way in results[1:])
    print(f"lowest GPU-busy share of our runs: {worst:.1%} (goal >= 90%); load average {os.getloadavg()[0]:.1f}")
    print("\nThe same, leaving out only the start-up (first submit -> first docker run anywhere) and the wind-down")
    print("(last container death anywhere -> last run finished), when no GPU can work:")
    for way in results:
        first, last = way.gpu_window
        shares = " ".join(f"{share:5.1%}" for share in busy_share(way.intervals, first, last).values())
        print(f"{way.label:44} start-up {first - way.start:4.2f}s  wind-down {way.end - last:4.2f}s  {shares:>18}")


if __name__ == "__main__":
    main()
