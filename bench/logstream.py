"""Benchmark: a line written by the container -> the browser's websocket, and opening a run page
with a 100,000-line log. Standalone (sets Django up itself); not part of the test suite.

    python bench/logstream.py [--seconds 10] [--rate 2000] [--flood 20000] [--no-redis]

The way a line really goes: a process inside a simulated container (local transport, the gpu
simulator's `docker`) appends timestamped lines to the job's log; a worker process runs the
real pipeline (`runs.pipeline.job_execute`, re-attaching to the running container): the
executor's `job_log_follow`, the run's execution.log and the channel-group wake-up; a daphne
process serves `/ws/runs/<id>/` (runs.consumers.RunLogConsumer); this process is the browser,
a websocket client with a session cookie, and measures now - the line's timestamp.

Baselines measured in the same run: a reader in this process that tails the container's log
file itself every millisecond (the floor: no pipeline, no websocket), and the run page of a run
with an empty log. Setups: the default (in-memory channel layer, so the consumer is woken by
its process's file watcher, logs.file_watch) and REDIS_URL (channels-redis wakes it at once).
Targets (issue 5): p50 < 100 ms and p99 < 300 ms at 2,000 lines/s; 20,000 lines/s for 10 s all
delivered once, in order; a 100,000-line run page opens in < 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The project's apps must be importable when this runs as `python bench/logstream.py`.
sys.path.insert(0, str(ROOT))

DATA_DIR = Path(tempfile.mkdtemp(prefix="cosmos-bench-logstream-"))
os.environ["COSMOS_DATA_DIR"] = str(DATA_DIR)
os.environ.pop("DATABASE_URL", None)  # the embedded default: SQLite in the data dir
os.environ.pop("REDIS_URL", None)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cosmosproject.settings")
os.environ.setdefault("COSMOS_SMART_NAMES", "0")

import django  # noqa: E402

django.setup()

import websockets  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

from gpu.executor import JOB_LABEL, executor_for  # noqa: E402
from gpu.models import GPUHost, Transport  # noqa: E402
from logs.files import LogFile  # noqa: E402
from prompts.models import Prompt  # noqa: E402
from runs.models import Job, JobState, Run, RunStatus  # noqa: E402
from runs.outputs import run_log_path  # noqa: E402

LINE = re.compile(rb"line (\d+) t=(\d+)")
EMITTER = r'''
import os, sys, time
job_dir, rate, seconds, warmup = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
total = int(rate * seconds)
time.sleep(warmup)  # a container loads its model first: the worker is following by the first line
log = open(os.path.join(job_dir, "job.log"), "ab", buffering=0)
stamp = time.strftime("%m-%d %H:%M:%S").encode()
start, sent = time.monotonic(), 0
while sent < total:
    due = min(total, int((time.monotonic() - start) * rate) + 1)
    if due > sent:
        now = time.time_ns()
        log.write(b"".join(b"[%s|INFO|bench_emit.py:12:emit] line %d t=%d\n" % (stamp, i, now) for i in range(sent, due)))
        sent = due
    else:
        time.sleep(0.0005)
open(os.path.join(job_dir, "exit_code"), "w").write("0\n")
'''
WARMUP_SECONDS = 4  # the worker process starts and re-attaches meanwhile
WORKER = "import django; django.setup(); from runs.pipeline import job_execute; print(job_execute({pk}, {lease!r}))"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Daphne:
    def __init__(self, env: dict[str, str]):
        self.port = free_port()
        self.log = DATA_DIR / f"daphne-{self.port}.log"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), "cosmosproject.asgi:application"],
            cwd=ROOT, env=env, stdout=self.log.open("w"), stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/accounts/login/", timeout=2)
                return
            except OSError:
                time.sleep(0.2)
        raise SystemExit(f"daphne did not start:\n{self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=15)


class World:
    """A user with a session, a simulated local host, and runs to stream."""

    def __init__(self):
        call_command("migrate", verbosity=0)
        self.user = get_user_model().objects.create_user("bench", password="bench-pass-123")
        client = Client()
        client.force_login(self.user)
        self.cookie = f"sessionid={client.cookies['sessionid'].value}"
        self.prompt = Prompt.objects.create(id="ps_bench", owner=self.user, prompt_text="A benchmark")
        remote = DATA_DIR / "gpuhost"
        remote.mkdir()
        self.host = GPUHost.objects.create(
            name="bench-sim", transport=Transport.LOCAL, remote_dir=str(remote), docker_cmd="docker", simulated=True
        )
        self.remote = remote
        (remote / "bench_emit.py").write_text(EMITTER)
        self.count = 0

    def running_run(self) -> tuple[Run, Job]:
        """A run whose job is `running` (as if its container had just been started)."""
        self.count += 1
        name = f"bench-{self.count}"
        run = Run.objects.create(prompt=self.prompt, owner=self.user, status=RunStatus.RUNNING, host=self.host, job_id=name)
        job = Job.objects.create(name=name, host=self.host, kind="transfer", state=JobState.RUNNING,
                                 run_ids=[run.id], lease=f"lease-{name}")
        return run, job

    def start_container(self, job: Job, rate: float, seconds: float) -> None:
        with executor_for(self.host) as ex:
            paths = ex.job_prepare(job.name)
            argv = ex.docker.run(
                image=ex.image, name=ex.container_name(job.name), labels={JOB_LABEL: job.name},
                volumes=[(str(self.remote), "/workspace")], workdir="/workspace",
                command=["bash", "-lc", f"python3 bench_emit.py {paths.root} {rate} {seconds} {WARMUP_SECONDS}"],
            )
            result = ex.transport.run(argv, timeout=60)
            if result.exit_code:
                raise SystemExit(f"the simulated container did not start: {result.stderr}")


def tail_baseline(path: Path, total: int, latencies: list[float], stop: threading.Event) -> None:
    """The floor: read the container's own log file every millisecond, in this process."""
    while not path.exists() and not stop.is_set():
        time.sleep(0.001)
    with path.open("rb") as handle:
        pending = b""
        seen = 0
        while seen < total and not stop.is_set():
            data = handle.read()
            if not data:
                time.sleep(0.001)
                continue
            now = time.time_ns()
            pending += data
            *complete, pending = pending.split(b"\n")
            for line in complete:
                match = LINE.search(line)
                if match:
                    latencies.append((now - int(match.group(2))) / 1e6)
                    seen += 1


async def watch(url: str, origin: str, cookie: str, total: int, container_started) -> dict:
    """The browser: follow the run's websocket and time every line; check order and uniqueness."""
    latencies: list[float] = []
    expected = 0
    problems = []
    async with websockets.connect(url, additional_headers={"Cookie": cookie, "Origin": origin},
                                  max_size=None, open_timeout=20) as ws:
        async for raw in ws:
            message = json.loads(raw)
            if message["type"] == "synced" and expected == 0 and not latencies:
                await asyncio.to_thread(container_started)
            if message["type"] != "lines":
                continue
            now = time.time_ns()
            for line in message["lines"]:
                match = LINE.search(line.encode())
                if not match:
                    continue  # the pipeline's own notes
                seq = int(match.group(1))
                if seq != expected:
                    problems.append(f"expected line {expected}, got {seq}")
                    expected = seq
                expected += 1
                latencies.append((now - int(match.group(2))) / 1e6)
            if expected >= total:
                break
    return {"latencies": latencies, "delivered": len(latencies), "problems": problems}


def stream(world: World, daphne: Daphne, env: dict[str, str], *, rate: float, seconds: float) -> dict:
    run, job = world.running_run()
    total = int(rate * seconds)
    baseline: list[float] = []
    relayed: list[float] = []
    stop = threading.Event()
    worker: list[subprocess.Popen] = []
    job_log = world.remote / "jobs" / job.name / "job.log"

    def container_started() -> None:
        # The page is live (its backlog is sent): start the container, the baseline reader and the worker.
        world.start_container(job, rate, seconds)
        threading.Thread(target=tail_baseline, args=(job_log, total, baseline, stop), daemon=True).start()
        threading.Thread(target=tail_baseline, args=(run_log_path(run), total, relayed, stop), daemon=True).start()
        worker.append(subprocess.Popen(
            [sys.executable, "-c", WORKER.format(pk=job.pk, lease=job.lease)], cwd=ROOT, env=env,
            stdout=subprocess.DEVNULL, stderr=(DATA_DIR / f"worker-{job.name}.log").open("w"),
        ))

    origin = f"http://127.0.0.1:{daphne.port}"
    url = f"ws://127.0.0.1:{daphne.port}/ws/runs/{run.id}/?offset=0"
    started = time.monotonic()
    result = asyncio.run(asyncio.wait_for(watch(url, origin, world.cookie, total, container_started), seconds + 120))
    result["seconds"] = time.monotonic() - started
    stop.set()
    for process in worker:
        process.wait(timeout=60)
    result["baseline"] = baseline
    result["relayed"] = relayed
    result["total"] = total
    return result


def open_page(world: World, daphne: Daphne, run: Run) -> tuple[float, float]:
    """Seconds to GET the run page, and to its websocket's first view (?tail=2000, until synced); best of 3."""
    page_times, socket_times = [], []
    for _ in range(3):
        request = urllib.request.Request(f"http://127.0.0.1:{daphne.port}/runs/{run.id}/", headers={"Cookie": world.cookie})
        started = time.perf_counter()
        with urllib.request.urlopen(request) as response:
            response.read()
        page_times.append(time.perf_counter() - started)

        async def first_view() -> float:
            url = f"ws://127.0.0.1:{daphne.port}/ws/runs/{run.id}/?tail=2000"
            begun = time.perf_counter()
            async with websockets.connect(url, additional_headers={"Cookie": world.cookie,
                                          "Origin": f"http://127.0.0.1:{daphne.port}"}, max_size=None) as ws:
                async for raw in ws:
                    if json.loads(raw)["type"] == "synced":
                        return time.perf_counter() - begun
            return float("nan")

        socket_times.append(asyncio.run(first_view()))
    return min(page_times), min(socket_times)


def report_stream(label: str, result: dict) -> bool:
    lat, base = result["latencies"], result["baseline"]
    ok_once = result["delivered"] == result["total"] and not result["problems"]
    p50, p99 = statistics.median(lat), percentile(lat, 0.99)
    b50, b99 = statistics.median(base), percentile(base, 0.99)
    print(f"{label}: {result['delivered']:,}/{result['total']:,} lines delivered once and in order: "
          f"{'yes' if ok_once else 'NO ' + '; '.join(result['problems'][:3])}")
    print(f"    container -> websocket  p50 {p50:7.1f} ms  p99 {p99:7.1f} ms  max {max(lat):7.1f} ms")
    r50, r99 = statistics.median(result["relayed"]), percentile(result["relayed"], 0.99)
    print(f"    of which container -> execution.log (the worker)  p50 {r50:7.1f} ms  p99 {r99:7.1f} ms")
    print(f"    baseline (tail the file) p50 {b50:7.1f} ms  p99 {b99:7.1f} ms   ratio p50 x{p50 / max(b50, 0.01):.1f}, "
          f"p99 x{p99 / max(b99, 0.01):.1f}")
    return ok_once


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rate", type=float, default=2000)
    parser.add_argument("--flood", type=float, default=20000)
    parser.add_argument("--page-lines", type=int, default=100_000)
    parser.add_argument("--no-redis", action="store_true", help="skip the channels-redis setup")
    args = parser.parse_args()
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    world = World()
    # Latency is wall-clock: other work on the machine shows in it, so say how busy it was.
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    setups = [("default (in-memory layer)", {})]
    if not args.no_redis:
        setups.append((f"REDIS_URL={redis_url}", {"REDIS_URL": redis_url}))
    verdicts = []
    try:
        for label, extra in setups:
            env = {**os.environ, **extra, "PYTHONUNBUFFERED": "1"}
            daphne = Daphne(env)
            try:
                print(f"== {label}")
                for rate in (args.rate, args.flood):
                    result = stream(world, daphne, env, rate=rate, seconds=args.seconds)
                    ok = report_stream(f"  {rate:,.0f} lines/s for {args.seconds:g} s", result)
                    p50, p99 = statistics.median(result["latencies"]), percentile(result["latencies"], 0.99)
                    if rate == args.rate:
                        verdicts.append(ok and p50 < 100 and p99 < 300)
                    else:
                        verdicts.append(ok)
            finally:
                daphne.stop()

        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        daphne = Daphne(env)
        try:
            empty, _ = world.running_run()
            Run.objects.filter(pk=empty.pk).update(status=RunStatus.COMPLETED)
            big, _ = world.running_run()
            Run.objects.filter(pk=big.pk).update(status=RunStatus.COMPLETED)
            log = LogFile(run_log_path(big))
            log.path.parent.mkdir(parents=True, exist_ok=True)
            for start in range(0, args.page_lines, 10_000):
                log.append(f"[09-08 01:15:{i % 60:02d}|INFO|transfer.py:187:demo] line {i} of a long log"
                           for i in range(start, min(start + 10_000, args.page_lines)))
            base_page, base_socket = open_page(world, daphne, empty)
            page, sock = open_page(world, daphne, big)
            print(f"== run page with a {args.page_lines:,}-line log")
            print(f"    page {page * 1000:6.1f} ms, live log's first view (last 2,000 lines) {sock * 1000:6.1f} ms, "
                  f"together {(page + sock) * 1000:6.1f} ms")
            print(f"    baseline (empty log): page {base_page * 1000:6.1f} ms, first view {base_socket * 1000:6.1f} ms;"
                  f" ratio x{(page + sock) / (base_page + base_socket):.1f}")
            verdicts.append(page + sock < 1.0)
        finally:
            daphne.stop()
    finally:
        shutil.rmtree(DATA_DIR, ignore_errors=True)
    print(f"load average at end: {os.getloadavg()[0]:.1f}")
    print("targets met" if all(verdicts) else "TARGETS MISSED")
    return 0 if all(verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
