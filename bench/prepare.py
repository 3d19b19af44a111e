"""Benchmark: `cosmos prepare`'s conversion against the `ffmpeg` command line doing the same encode.

Writes 121 frames of 1280x704 for three passes (textured 8-bit color, 16-bit depth, segmentation
labels), then, taking turns so both see the same machine, times:

- ours: `sequence_inspect` + `sequence_encode` (every check of the report, the depth pass's value
  range, all three passes encoded side by side);
- baseline: imageio-ffmpeg's `ffmpeg` encoding the three passes one after the other with the same
  settings (libx264 veryfast, crf 18, BT.709 yuv420p, faststart), as a user would type it. It
  does no checking and no depth normalization.

Prints each side's best wall time of N rounds, its median CPU time, and the ratio ours/ffmpeg
(the goal: at most 1.2). Also shown, for reference only: the three ffmpeg commands run at once.

Run: `.venv/bin/python bench/prepare.py [--rounds N]`. Needs no database.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from pathlib import Path

import imageio_ffmpeg
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from prompts.prepare.discovery import sequence_inspect  # noqa: E402
from prompts.prepare.encode import CRF, PRESET, sequence_encode  # noqa: E402
from prompts.prepare.geometry import Fit, plan_fit  # noqa: E402

FRAMES, WIDTH, HEIGHT, FPS = 121, 1280, 704, 24
PASSES = ("color", "depth", "segmentation")


class _Scene:
    """A ball crossing a textured ground under a sky; film-like grain so x264 has real work."""

    def __init__(self):
        rng = np.random.default_rng(7)
        self.rows, self.cols = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
        self.ground = self.rows >= HEIGHT * 2 // 5
        texture = rng.normal(0, 14, (HEIGHT, WIDTH * 2)).astype(np.float32)
        self.texture = (texture + np.roll(texture, 1, 0) + np.roll(texture, 1, 1)) / 3  # a surface, not noise
        base = np.where(self.ground[..., None], [110, 100, 85], [150, 180, 230]).astype(np.float32)
        self.base = base * (0.6 + 0.4 * self.rows / HEIGHT)[..., None]
        self.grain = [rng.normal(0, 1.5, (HEIGHT, WIDTH, 1)).astype(np.float32) for _ in range(5)]
        self.depth = np.where(self.ground, 20_000 + (HEIGHT - self.rows) * 60, 60_000).astype(np.uint16)
        self.labels = np.where(self.ground[..., None], [128, 64, 128], [70, 130, 180]).astype(np.uint8)

    def write(self, folder: Path, index: int) -> None:
        t = index / (FRAMES - 1)
        cx, cy, radius = WIDTH * (0.1 + 0.8 * t), HEIGHT * (0.75 - 0.3 * abs(np.sin(t * 9))), 70
        ball = (self.cols - cx) ** 2 + (self.rows - cy) ** 2 <= radius**2
        shift = int(t * WIDTH)  # the camera pans: the ground texture moves
        surface = np.where(self.ground, self.texture[:, shift : shift + WIDTH], self.texture[:, :WIDTH] * 0.2)
        color = self.base + surface[..., None] + self.grain[index % len(self.grain)]
        color[ball] = [200, 40, 30]
        depth, labels = self.depth.copy(), self.labels.copy()
        depth[ball], labels[ball] = 8_000, [220, 20, 60]
        number = f"{index + 1:04d}"
        # Level 1 is about what renderers write by default; decoding costs the same at any level.
        Image.fromarray(np.clip(color, 0, 255).astype(np.uint8)).save(folder / f"color.{number}.png", compress_level=1)
        Image.fromarray(depth).save(folder / f"depth.{number}.png", compress_level=1)
        Image.fromarray(labels).save(folder / f"segmentation.{number}.png", compress_level=1)


def write_frames(folder: Path) -> None:
    scene = _Scene()
    with ThreadPoolExecutor(os.cpu_count()) as pool:  # numpy and PNG encoding release the GIL
        list(pool.map(lambda index: scene.write(folder, index), range(FRAMES)))


def ffmpeg_command(folder: Path, out: Path, name: str) -> list[str]:
    return [
        imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-y", "-loglevel", "error",
        "-framerate", str(FPS), "-start_number", "1", "-i", str(folder / f"{name}.%04d.png"),
        "-vf", "scale=out_color_matrix=bt709:out_range=tv,format=yuv420p",
        "-c:v", "libx264", "-preset", PRESET, "-crf", str(CRF),
        "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709",
        "-movflags", "+faststart", str(out / f"{name}.mp4"),
    ]  # fmt: skip


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_ffmpeg(folder: Path, out: Path, *, parallel: bool) -> tuple[float, float]:
    cpu, start = children_cpu(), time.perf_counter()
    commands = [ffmpeg_command(folder, out, name) for name in PASSES]
    if parallel:
        with ThreadPoolExecutor(len(commands)) as pool:
            list(pool.map(lambda command: subprocess.run(command, check=True), commands))
    else:
        for command in commands:
            subprocess.run(command, check=True)
    return time.perf_counter() - start, children_cpu() - cpu


def run_ours(folder: Path, out: Path) -> tuple[float, float]:
    cpu, start = time.process_time(), time.perf_counter()
    report = sequence_inspect(folder)
    report.raise_for_problems()
    sequence_encode(report, out, fps=Fraction(FPS), plan=plan_fit(report.color.size, Fit.PAD))
    return time.perf_counter() - start, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    work = Path(tempfile.mkdtemp(prefix="bench-prepare-"))
    try:
        frames = work / "frames"
        frames.mkdir()
        start = time.perf_counter()
        write_frames(frames)
        size = sum(p.stat().st_size for p in frames.iterdir())
        print(f"wrote {FRAMES} frames x {len(PASSES)} passes at {WIDTH}x{HEIGHT} "
              f"({size / 1024**2:.0f} MB) in {time.perf_counter() - start:.1f} s; {os.cpu_count()} cores")
        results: dict[str, list[tuple[float, float]]] = {"ffmpeg": [], "ours": [], "ffmpeg x3 at once": []}
        for index in range(rounds + 1):  # round 0 warms the page cache and both code paths
            for label in results:
                out = work / f"out-{label.replace(' ', '-')}-{index}"
                out.mkdir()
                if label == "ours":
                    timing = run_ours(frames, out)
                else:
                    timing = run_ffmpeg(frames, out, parallel=label != "ffmpeg")
                if index:
                    results[label].append(timing)
                shutil.rmtree(out)
        # The best of N is the run least disturbed by other work on the machine (as timeit does);
        # CPU seconds barely depend on that, so their median is given.
        best = {label: min(w for w, _ in timings) for label, timings in results.items()}
        cpu = {label: statistics.median(c for _, c in timings) for label, timings in results.items()}
        for label in results:
            walls = ", ".join(f"{w:.2f}" for w, _ in results[label])
            print(f"{label:>18}: best {best[label]:6.2f} s wall ({walls}), {cpu[label]:6.2f} s CPU")
        print(f"ratio ours/ffmpeg: {best['ours'] / best['ffmpeg']:.2f}x wall (goal <= 1.2x), "
              f"{cpu['ours'] / cpu['ffmpeg']:.2f}x CPU; against 3 ffmpeg at once: "
              f"{best['ours'] / best['ffmpeg x3 at once']:.2f}x wall")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
