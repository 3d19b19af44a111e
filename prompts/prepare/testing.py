"""Test helpers: small PNG sequences written as a renderer writes them, zips of them, and fixtures.

The passes belong together: a bright square moves across a gradient in color, is nearer than the
background in the 16-bit depth pass, and has its own label colour in segmentation. Import the
fixtures into a test module to use them.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

DEPTH_NEAR, DEPTH_FAR = 2_000, 30_000


@pytest.fixture
def simple_names(settings):
    """Names without the KeyBERT model (tested with prompts.naming): instant, and the same every time."""
    settings.COSMOS = {**settings.COSMOS, "SMART_NAMES": False}


@pytest.fixture
def renders(isolated_storage) -> Path:
    """Six frames of color, 16-bit depth and segmentation in `shot_010`, inside the allowed input roots."""
    return write_sequence(isolated_storage / "renders" / "shot_010", frames=range(1, 7))


def write_sequence(
    folder: Path,
    *,
    frames: Iterable[int] = range(1, 7),
    size: tuple[int, int] = (64, 36),
    passes: Iterable[str] = ("color", "depth", "segmentation"),
    depth_bits: int = 16,
    pattern: str = "{name}.{number:04d}.png",
) -> Path:
    """Write the numbered frames of each pass into `folder` (created if needed); return it."""
    folder.mkdir(parents=True, exist_ok=True)
    numbers = list(frames)
    for name in passes:
        for index, number in enumerate(numbers):
            image = _render(name, index, size, depth_bits)
            image.save(folder / pattern.format(name=name, number=number), compress_level=1)
    return folder


def zip_folder(folder: Path, target: Path, *, wrap: str = "") -> Path:
    """Zip the files of `folder`, inside a folder named `wrap` when given (as most zip tools do)."""
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.iterdir()):
            archive.write(path, f"{wrap}/{path.name}" if wrap else path.name)
    return target


def _render(name: str, index: int, size: tuple[int, int], depth_bits: int) -> Image.Image:
    width, height = size
    rows, cols = np.mgrid[0:height, 0:width]
    left = (index * 3) % max(width - width // 4, 1)
    square = (cols >= left) & (cols < left + width // 4) & (rows >= height // 4) & (rows < height * 3 // 4)
    if name == "depth":
        far = (DEPTH_FAR - rows * (DEPTH_FAR - DEPTH_NEAR) // (2 * height)).astype(np.uint16)
        depth = np.where(square, np.uint16(DEPTH_NEAR), far)
        if depth_bits == 16:
            return Image.fromarray(depth)
        return Image.fromarray((depth >> 8).astype(np.uint8))
    if name == "segmentation":
        labels = np.zeros((height, width, 3), np.uint8)
        labels[...] = (70, 130, 180)
        labels[rows >= height // 2] = (128, 64, 128)
        labels[square] = (220, 20, 60)
        return Image.fromarray(labels)
    rgb = np.stack([cols * 255 // max(width - 1, 1), rows * 255 // max(height - 1, 1), np.full_like(cols, 90)], -1)
    rgb[square] = (250, 240, 40)
    return Image.fromarray(rgb.astype(np.uint8))
