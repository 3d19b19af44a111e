"""A synthetic scene to try the product with: color, depth and segmentation videos that belong together.

A ball rolls and bounces across a ground plane past a box, under a sky. The three passes are
rendered from the same geometry, so the depth and segmentation videos line up with the color video
frame by frame, as a renderer's passes would. Output is deterministic (same bytes every time,
hence stored once however often it is written) and small enough to write in about a second.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import av
import numpy as np

from prompts.errors import InvalidInput

# Segmentation colours in the Cityscapes palette the Cosmos seg control was trained on.
SKY, GROUND, BALL, BOX = (70, 130, 180), (128, 64, 128), (220, 20, 60), (0, 0, 142)
DEFAULT_FRAMES, DEFAULT_WIDTH, DEFAULT_HEIGHT, DEFAULT_FPS = 121, 320, 176, 24
SCENE_FILES = ("color.mp4", "depth.mp4", "segmentation.mp4")
SAMPLE_PROMPT = "A red ball bounces across a tiled plaza past a blue crate at dusk"


def write_scene(
    folder: str | Path,
    *,
    frames: int = DEFAULT_FRAMES,
    width: int = DEFAULT_WIDTH,
    height: int = DEFAULT_HEIGHT,
    fps: int = DEFAULT_FPS,
) -> dict[str, Path]:
    """Write color.mp4, depth.mp4 and segmentation.mp4 into `folder`; refuse to overwrite."""
    folder = Path(folder)
    if width % 16 or height % 16 or not (16 <= width <= 4096 and 16 <= height <= 4096):
        raise InvalidInput("Sample size must be multiples of 16 between 16 and 4096 pixels.")
    if not 1 <= frames <= 10_000:
        raise InvalidInput("Sample frame count must be between 1 and 10,000.")
    existing = [name for name in SCENE_FILES if (folder / name).exists()]
    if existing:
        raise InvalidInput(f"{folder} already holds {', '.join(existing)}: choose an empty or new folder.")
    folder.mkdir(parents=True, exist_ok=True)
    scene = _Scene(width, height, frames)
    passes = {"color": scene.color, "depth": scene.depth, "segmentation": scene.segmentation}
    written = {}
    for role, render in passes.items():
        target = folder / f"{role}.mp4"
        temp = folder / f".{role}.mp4.partial"
        _encode(temp, (render(i) for i in range(frames)), width=width, height=height, fps=fps)
        os.replace(temp, target)  # a reader never sees half a video
        written[role] = target
    return written


def _encode(path: Path, images, *, width: int, height: int, fps: int) -> None:
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        # Fixed encoder settings and one thread: the same scene always encodes to the same bytes.
        stream.options = {"preset": "veryfast", "crf": "18"}
        stream.codec_context.thread_count = 1
        for image in images:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(_yuv420p(image), format="yuv420p")))
        container.mux(stream.encode())


def _yuv420p(rgb: np.ndarray) -> np.ndarray:
    """RGB to planar YUV 4:2:0 (BT.601, limited range) in numpy.

    Done here rather than by FFmpeg's scaler, whose SIMD paths depend on buffer alignment and so
    give different bytes from run to run.
    """
    r, g, b = (rgb[..., i].astype(np.float32) for i in range(3))
    y = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255
    u = 128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255
    v = 128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255
    height, width = y.shape

    def half(plane: np.ndarray) -> np.ndarray:
        return plane.reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3))

    chroma = np.concatenate([half(u).reshape(height // 4, width), half(v).reshape(height // 4, width)])
    return np.clip(np.rint(np.concatenate([y, chroma])), 0, 255).astype(np.uint8)


class _Scene:
    """The geometry, and one renderer per pass."""

    def __init__(self, width: int, height: int, frames: int):
        self.w, self.h, self.frames = width, height, frames
        self.horizon = int(height * 0.42)
        rows = np.arange(height, dtype=np.float32)[:, None]
        cols = np.arange(width, dtype=np.float32)[None, :]
        ground = rows >= self.horizon
        # Distance along the ground grows as 1 / (row - horizon): the usual pinhole perspective.
        below = np.maximum(rows - self.horizon, 1.0)
        distance = height / below
        self.nearness = np.where(ground, np.clip(1.0 / distance, 0.0, 1.0), 0.0) * np.ones_like(cols)
        self.ground = np.broadcast_to(ground, (height, width))
        self.ball_radius = max(4, height // 10)
        self.box = (int(width * 0.62), int(width * 0.78), int(height * 0.50), int(height * 0.80))

        sky_shade = (1.0 - rows / max(self.horizon, 1)) * 0.6 + 0.4
        sky = np.clip(np.array([255, 170, 110], np.float32) * sky_shade, 0, 255)  # dusk
        lines = ((np.floor(distance * 2) % 2 == 0) ^ (np.floor((cols - width / 2) / below * 6) % 2 == 0))
        ground_rgb = np.where(lines[..., None], [70, 70, 80], [95, 95, 105]) * (0.5 + 0.5 * self.nearness[..., None])
        self.background = np.where(self.ground[..., None], ground_rgb, sky[:, None, :] * np.ones((1, width, 1)))
        self.rows, self.cols = rows, cols

    def _ball(self, index: int) -> tuple[np.ndarray, float, float]:
        t = index / max(self.frames - 1, 1)
        cx = self.w * (0.12 + 0.76 * t)
        floor = self.h * 0.86 - self.ball_radius
        cy = floor - abs(math.sin(t * math.pi * 3)) * self.h * 0.3
        mask = (self.cols - cx) ** 2 + (self.rows - cy) ** 2 <= self.ball_radius**2
        return mask, cx, cy

    def _box_mask(self) -> np.ndarray:
        x0, x1, y0, y1 = self.box
        return (self.cols >= x0) & (self.cols < x1) & (self.rows >= y0) & (self.rows < y1)

    def color(self, index: int) -> np.ndarray:
        image = self.background.copy()
        box = self._box_mask()
        x0, x1, _y0, _y1 = self.box
        side = box & (self.cols >= x0 + (x1 - x0) * 0.7)
        image[box] = (40, 60, 160)
        image[side] = (25, 40, 110)
        ball, cx, cy = self._ball(index)
        light = 1.0 - np.hypot(self.cols - cx + self.ball_radius / 3, self.rows - cy + self.ball_radius / 3) / (
            self.ball_radius * 2
        )
        shaded = np.clip(np.array([230, 40, 40])[None, None, :] * (0.4 + light[..., None]), 0, 255)
        image[ball] = shaded[ball]
        return image.astype(np.uint8)

    def depth(self, index: int) -> np.ndarray:
        near = self.nearness.copy()
        near[self._box_mask()] = self.nearness[self.box[3] - 1, 0]
        ball, _cx, _cy = self._ball(index)
        near[ball] = self.nearness[int(self.h * 0.86) - 1, 0]
        gray = (np.clip(near, 0, 1) * 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=2)

    def segmentation(self, index: int) -> np.ndarray:
        image = np.where(self.ground[..., None], GROUND, SKY).astype(np.uint8)
        image[self._box_mask()] = BOX
        ball, _cx, _cy = self._ball(index)
        image[ball] = BALL
        return image
