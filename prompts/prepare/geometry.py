"""The resolutions Cosmos Transfer accepts, and how a frame of any size is fitted to the nearest one.

The model resizes its inputs to one of five resolutions. We pick the one whose aspect ratio is
closest to the source's and fit the frame to it ourselves, so the user decides whether the aspect
is kept by padding (black bars, nothing lost) or by cropping (the frame filled, edges lost).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

ACCEPTED_RESOLUTIONS: tuple[tuple[int, int], ...] = ((1280, 704), (704, 1280), (960, 960), (960, 704), (704, 960))


class Fit(StrEnum):
    PAD = "pad"
    CROP = "crop"


@dataclass(frozen=True)
class FramePlan:
    """How every frame of a sequence becomes a frame of the output videos: crop, scale, pad."""

    source: tuple[int, int]
    target: tuple[int, int]
    fit: Fit
    # The part of the source that is used, in source pixels: left, top, right, bottom.
    crop: tuple[int, int, int, int]
    # The size that part is scaled to, and where it lands on the black target canvas.
    scaled: tuple[int, int]
    offset: tuple[int, int]

    @property
    def identity(self) -> bool:
        return self.source == self.target

    @property
    def cropped(self) -> bool:
        return self.crop != (0, 0, *self.source)

    @property
    def padded(self) -> bool:
        return self.scaled != self.target


def nearest_resolution(width: int, height: int) -> tuple[int, int]:
    """The accepted resolution whose aspect ratio is closest to width:height (on a log scale)."""
    aspect = math.log(width / height)
    return min(ACCEPTED_RESOLUTIONS, key=lambda size: abs(math.log(size[0] / size[1]) - aspect))


def plan_fit(source: tuple[int, int], fit: Fit) -> FramePlan:
    width, height = source
    target = nearest_resolution(width, height)
    tw, th = target
    if fit is Fit.PAD:
        scale = min(tw / width, th / height)
        scaled = (min(tw, round(width * scale)), min(th, round(height * scale)))
        offset = ((tw - scaled[0]) // 2, (th - scaled[1]) // 2)
        crop = (0, 0, width, height)
    else:
        scale = max(tw / width, th / height)
        used_w, used_h = min(width, round(tw / scale)), min(height, round(th / scale))
        left, top = (width - used_w) // 2, (height - used_h) // 2
        crop = (left, top, left + used_w, top + used_h)
        scaled, offset = target, (0, 0)
    return FramePlan(source=source, target=target, fit=fit, crop=crop, scaled=scaled, offset=offset)
