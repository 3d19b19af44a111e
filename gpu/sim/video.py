"""Real video for the simulator: read an input once, write several derived mp4s frame by frame.

The generated output is the input tinted and striped by a colour and pattern derived from a
seed string (the prompt, weights and seed), so different prompts or weights give visibly
different videos, and carries a "SIMULATED" mark when it is wide enough to read. Control
videos (edge, depth, seg, vis, ...) are cheap image operations on the same frames. Frames are
streamed (never all in memory) and encoded with x264's ultrafast preset.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

Effect = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class VideoInfo:
    frames: int
    width: int
    height: int
    fps: Fraction


def probe(path: str | Path) -> VideoInfo:
    """Frame count, size and rate, counted by decoding (container headers can be wrong)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return VideoInfo(frames, stream.codec_context.width, stream.codec_context.height, _rate(stream))


def _rate(stream) -> Fraction:
    rate = stream.average_rate or stream.guessed_rate or Fraction(24)
    return Fraction(rate).limit_denominator(1001)


def seed_color(seed: str) -> tuple[np.ndarray, int, int]:
    """A saturated colour, a stripe period and a phase, all from the seed text."""
    digest = hashlib.sha256(seed.encode()).digest()
    hue = digest[0] / 255.0
    # HSV -> RGB at full saturation and value.
    i, f = int(hue * 6) % 6, hue * 6 - int(hue * 6)
    q, t = 1 - f, f
    rgb = [(1, t, 0), (q, 1, 0), (0, 1, t), (0, q, 1), (t, 0, 1), (1, 0, q)][i]
    return np.array(rgb, dtype=np.float32) * 255, 6 + digest[1] % 20, digest[2]


def _text_mask(width: int, height: int, text: str) -> np.ndarray | None:
    if width < 160 or height < 48:
        return None
    from PIL import Image, ImageDraw

    image = Image.new("L", (width, height), 0)
    ImageDraw.Draw(image).text((8, height - 20), text, fill=255)
    return np.asarray(image) > 0


def generated(seed: str, width: int, height: int) -> Effect:
    """The stand-in for a generated frame: tint, diagonal stripes, and the simulator's mark."""
    color, period, phase = seed_color(seed)
    ys, xs = np.mgrid[0:height, 0:width]
    stripes = (((xs + ys + phase) // period) % 2).astype(np.float32)[..., None]
    shade = 0.82 + 0.18 * stripes
    mark = _text_mask(width, height, "SIMULATED - cosmos-sim")

    def effect(frame: np.ndarray) -> np.ndarray:
        out = (frame.astype(np.float32) * 0.55 + color * 0.45) * shade
        out = out.clip(0, 255).astype(np.uint8)
        if mark is not None:
            out[mark] = 255
        return out

    return effect


def _gray(frame: np.ndarray) -> np.ndarray:
    return frame.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _rgb(gray: np.ndarray) -> np.ndarray:
    return np.repeat(gray.clip(0, 255).astype(np.uint8)[..., None], 3, axis=2)


def edge(frame: np.ndarray) -> np.ndarray:
    gray = _gray(frame)
    gx = np.abs(np.diff(gray, axis=1, append=gray[:, -1:]))
    gy = np.abs(np.diff(gray, axis=0, append=gray[-1:, :]))
    return _rgb(((gx + gy) > 24) * 255.0)


def depth(frame: np.ndarray) -> np.ndarray:
    height = frame.shape[0]
    ramp = np.linspace(40, 255, height, dtype=np.float32)[:, None]
    return _rgb(ramp * 0.7 + (255 - _gray(frame)) * 0.3)


def seg(frame: np.ndarray) -> np.ndarray:
    return ((frame // 86) * 110 + 20).astype(np.uint8)


def vis(frame: np.ndarray) -> np.ndarray:
    height, width = frame.shape[:2]
    small = frame[::8, ::8]
    return np.repeat(np.repeat(small, 8, axis=0), 8, axis=1)[:height, :width]


def gray(frame: np.ndarray) -> np.ndarray:
    return _rgb(_gray(frame))


CONTROL_EFFECTS: dict[str, Effect] = {"edge": edge, "depth": depth, "seg": seg, "vis": vis,
                                      "keypoint": gray, "hdmap": gray, "lidar": gray}


def upscaled(effect: Effect, factor: int) -> Effect:
    def scaled(frame: np.ndarray) -> np.ndarray:
        return effect(np.repeat(np.repeat(frame, factor, axis=0), factor, axis=1))

    return scaled


class _Writer:
    def __init__(self, path: Path, width: int, height: int, fps: Fraction):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = path.with_name(f".{path.name}.partial.mp4")
        self.path = path
        self.container = av.open(str(self.tmp), "w")
        self.stream = self.container.add_stream("libx264", rate=fps)
        self.stream.width, self.stream.height = width, height
        # 4:2:0 (what browsers play) needs even sizes; an odd-sized input keeps its size in 4:4:4.
        self.stream.pix_fmt = "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"
        self.stream.options = {"preset": "ultrafast", "crf": "23"}
        self.index = 0

    def write(self, rgb: np.ndarray) -> None:
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        frame.pts = self.index
        self.index += 1
        for packet in self.stream.encode(frame):
            self.container.mux(packet)

    def close(self) -> None:
        for packet in self.stream.encode():
            self.container.mux(packet)
        self.container.close()
        self.tmp.replace(self.path)  # a killed run never leaves a half-written output.mp4


def render(source: str | Path, outputs: dict[Path, Effect], *, scale: int = 1,
           on_frame: Callable[[int], None] | None = None) -> VideoInfo:
    """Decode `source` once and write one mp4 per output, each frame passed through its effect."""
    with av.open(str(source)) as container:
        stream = container.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
        fps = _rate(stream)
        writers = {path: _Writer(path, width * scale, height * scale, fps) for path in outputs}
        count = 0
        for frame in container.decode(stream):
            rgb = frame.to_ndarray(format="rgb24")
            for path, effect in outputs.items():
                writers[path].write(effect(rgb))
            count += 1
            if on_frame:
                on_frame(count)
    for writer in writers.values():
        writer.close()
    return VideoInfo(count, width * scale, height * scale, fps)


def write_test_video(path: str | Path, *, frames: int = 8, width: int = 64, height: int = 48, fps: int = 24) -> Path:
    """A small moving-gradient clip (tests, demos, the default simulated host's sample)."""
    path = Path(path)
    writer = _Writer(path, width, height, Fraction(fps))
    ys, xs = np.mgrid[0:height, 0:width]
    for index in range(frames):
        r = (xs * 255 // max(width - 1, 1) + index * 8) % 256
        g = (ys * 255 // max(height - 1, 1))
        b = np.full_like(xs, (index * 30) % 256)
        writer.write(np.stack([r, g, b], axis=2).astype(np.uint8))
    writer.close()
    return path
