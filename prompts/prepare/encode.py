"""Encode each pass's PNG frames into an H.264 mp4 with PyAV, all passes at once.

Frames are decoded by FFmpeg's PNG decoder and converted by its scaler, straight from the file's
bytes to YUV without a copy through Python, and each pass runs in its own thread: decoding,
scaling and x264 release the GIL, so the passes keep both cores busy the way the `ffmpeg` command
keeps them busy for one file. Frames are fitted to the nearest accepted resolution (`geometry`),
converted to BT.709 limited-range YUV 4:2:0 and tagged so, which is what players and the Cosmos
loaders expect of an HD H.264 file.

16-bit depth is stretched over the value range the whole pass uses (one mapping for every frame,
so the depth video does not flicker); other 16-bit passes are scaled down as they are. A frame
that cannot be decoded does not stop its pass at once: the pass goes on decoding (without
encoding) so that every damaged frame is reported together.
"""

from __future__ import annotations

import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.frame import PictureType
from av.video.reformatter import ColorRange, Colorspace, Interpolation, VideoReformatter

from prompts.prepare.discovery import PassFrames, Progress, SequenceInvalid, SequenceReport
from prompts.prepare.geometry import FramePlan

CRF = 18
PRESET = "veryfast"
# Decoded 16-bit depth frames are kept for the encoding pass when they fit in this many bytes;
# beyond it they are decoded twice (once to find the value range, once to encode).
DEPTH_CACHE_BYTES = 512 * 1024**2
# Pictures get a sharp filter; data passes one that invents no values (no ringing around depth
# edges); segmentation keeps its exact label colours.
_INTERPOLATION = {"color": Interpolation.LANCZOS, "vis": Interpolation.LANCZOS, "segmentation": Interpolation.POINT}
_DATA_INTERPOLATION = Interpolation.BILINEAR
_DECODE_ERRORS = (OSError, ValueError, av.FFmpegError)
_SIXTEEN_BIT_GRAY = ("gray16be", "gray16le")
_BT709 = 1  # AVCOL_PRI_BT709 = AVCOL_TRC_BT709 = AVCOL_SPC_BT709 = 1


@dataclass(frozen=True)
class EncodedVideo:
    modality: str
    path: Path
    frames: int
    size: int
    sha256: str
    # The 16-bit values mapped to black and white, for a normalized depth pass.
    value_range: tuple[int, int] | None


def sequence_encode(
    report: SequenceReport, out_dir: Path, *, fps: Fraction, plan: FramePlan, progress: Progress | None = None
) -> dict[str, EncodedVideo]:
    """Write `<pass>.mp4` for every pass of a checked sequence into `out_dir`; SequenceInvalid if frames are damaged."""
    # Normalized depth is gone through twice (value range, then encoding): both count as work done.
    total = sum(len(f.numbers) * (2 if _normalized(f) else 1) for f in report.passes.values())
    tally = _Tally()
    with ThreadPoolExecutor(max_workers=len(report.passes), thread_name_prefix="encode") as pool:
        futures = {
            name: pool.submit(_encode_pass, frames, out_dir / f"{name}.mp4", plan, fps, tally)
            for name, frames in report.passes.items()
        }
        pending = set(futures.values())
        while pending:
            _done, pending = wait(pending, timeout=0.25)
            if progress:
                progress("encoding", tally.value, total)
        results = {name: future.result() for name, future in futures.items()}
    problems = [problem for result in results.values() if isinstance(result, list) for problem in result]
    if problems:
        raise SequenceInvalid(report.label, problems)
    return results


class _Tally:
    """Frames done so far, across the pass threads."""

    def __init__(self):
        self._lock = threading.Lock()
        self.value = 0

    def add(self, count: int = 1) -> None:
        with self._lock:
            self.value += count


def _normalized(frames: PassFrames) -> bool:
    return frames.name == "depth" and frames.sixteen_bit


def _encode_pass(
    frames: PassFrames, target: Path, plan: FramePlan, fps: Fraction, tally: _Tally
) -> EncodedVideo | list[str]:
    """The encoded video, or the list of frames that could not be decoded."""
    value_range, cached, problems = None, None, []
    if _normalized(frames):
        value_range, cached, problems = _value_range(frames, tally)
        if problems:
            return problems
    lut = _lut(*value_range) if value_range else None
    fitter = _Fitter(plan, _INTERPOLATION.get(frames.name, _DATA_INTERPOLATION))
    with av.open(str(target), mode="w", format="mp4", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = plan.target
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(CRF), "preset": PRESET}
        context = stream.codec_context
        context.color_primaries = context.color_trc = context.colorspace = _BT709
        context.color_range = ColorRange.MPEG
        for index, path in enumerate(frames.paths):
            try:
                if cached:
                    frame = _from_gray16(cached[index], lut)
                elif lut is not None:
                    frame = _from_gray16(_gray16_pixels(_decode(path)), lut)
                else:
                    frame = _decode(path)
            except _DECODE_ERRORS as exc:
                problems.append(_undecodable(path, exc))
                continue
            finally:
                tally.add()
            if problems:
                continue  # this pass is lost; only look for more damaged frames
            frame = fitter(frame)
            frame.pts = index
            # A decoded PNG is an I picture and the scaler keeps that mark: passed on, it would make
            # x264 code every frame as a keyframe (about ten times the size, and slower).
            frame.pict_type = PictureType.NONE
            container.mux(stream.encode(frame))
        if not problems:
            container.mux(stream.encode())
    if problems:
        return problems
    return EncodedVideo(
        modality=frames.name,
        path=target,
        frames=len(frames.paths),
        size=target.stat().st_size,
        sha256=_sha256(target),
        value_range=value_range,
    )


def _decode(path: Path) -> av.VideoFrame:
    # A new decoder per file: each file is a picture of its own, and a damaged one cannot leave
    # state behind for the next. (One decoder for many files would also need every packet marked
    # as a keyframe: FFmpeg's PNG decoder adds a non-key packet onto the previous picture.)
    decoder = av.CodecContext.create("png", "r")
    decoder.thread_count = 1  # the passes already run side by side
    # Check each chunk's CRC and fail on damage instead of concealing it.
    decoder.options = {"err_detect": "crccheck+explode"}
    frames = decoder.decode(av.Packet(path.read_bytes()))
    if not frames:
        raise ValueError("no picture in the file")
    return frames[0]


def _gray16_pixels(frame: av.VideoFrame) -> np.ndarray:
    if frame.format.name not in _SIXTEEN_BIT_GRAY:
        raise ValueError("not a 16-bit grayscale frame like the rest of the pass")
    return frame.to_ndarray()


def _undecodable(path: Path, exc: Exception) -> str:
    # FFmpeg's and the OS's errors carry a plain reason; their str() adds codes and function names.
    reason = getattr(exc, "strerror", None) or str(exc)
    return f"{path.name} cannot be decoded ({reason}): render or copy it again."


def _from_gray16(pixels: np.ndarray, lut: np.ndarray) -> av.VideoFrame:
    return av.VideoFrame.from_ndarray(lut[pixels], format="gray")


def _value_range(frames: PassFrames, tally: _Tally) -> tuple[tuple[int, int] | None, list | None, list[str]]:
    """The pass's lowest and highest value, its decoded frames when they fit the cache, and damaged frames."""
    low, high = 65535, 0
    cached: list[np.ndarray] | None = []
    problems: list[str] = []
    for path in frames.paths:
        try:
            pixels = _gray16_pixels(_decode(path))
        except _DECODE_ERRORS as exc:
            problems.append(_undecodable(path, exc))
            continue
        finally:
            tally.add()
        low, high = min(low, int(pixels.min())), max(high, int(pixels.max()))
        if cached is not None:
            cached.append(pixels)
            if len(cached) * pixels.nbytes > DEPTH_CACHE_BYTES:
                cached = None
    return ((low, high) if not problems else None), cached, problems


def _lut(low: int, high: int) -> np.ndarray:
    """A table mapping each 16-bit value to 0-255, `low` to black and `high` to white."""
    if high <= low:
        return np.zeros(65536, dtype=np.uint8)
    values = np.arange(65536, dtype=np.float64)
    return np.clip(np.rint((values - low) * 255.0 / (high - low)), 0, 255).astype(np.uint8)


class _Fitter:
    """Crops, scales and pads decoded frames to the plan, then converts them to BT.709 yuv420p."""

    def __init__(self, plan: FramePlan, interpolation: Interpolation):
        self.plan = plan
        self.interpolation = interpolation
        # One reformatter per kind of conversion: each keeps its FFmpeg scaler between frames.
        self._packer, self._scaler, self._converter = VideoReformatter(), VideoReformatter(), VideoReformatter()

    def __call__(self, frame: av.VideoFrame) -> av.VideoFrame:
        if not self.plan.identity:
            frame = self._reshape(frame)
        return self._converter.reformat(
            frame,
            format="yuv420p",
            # PNG gray is full range like RGB; the scaler would otherwise take it as limited range.
            src_color_range=ColorRange.JPEG,
            dst_colorspace=Colorspace.ITU709,
            dst_color_range=ColorRange.MPEG,
            threads=1,
        )

    def _reshape(self, frame: av.VideoFrame) -> av.VideoFrame:
        plan = self.plan
        packed = "gray" if frame.format.name.startswith(("gray", "ya", "mono")) else "rgb24"
        if plan.cropped:
            left, top, right, bottom = plan.crop
            array = self._packer.reformat(frame, format=packed, threads=1).to_ndarray()[top:bottom, left:right]
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(array), format=packed)
        width, height = plan.scaled
        frame = self._scaler.reformat(
            frame, width=width, height=height, format=packed, interpolation=self.interpolation, threads=1
        )
        if not plan.padded:
            return frame
        target_width, target_height = plan.target
        canvas = np.zeros((target_height, target_width, 3)[: 2 if packed == "gray" else 3], dtype=np.uint8)
        x, y = plan.offset
        canvas[y : y + height, x : x + width] = frame.to_ndarray()
        return av.VideoFrame.from_ndarray(canvas, format=packed)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()
