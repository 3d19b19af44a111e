"""Input videos: probe them with PyAV, hash them, keep them content-addressed under INPUTS_DIR.

A video goes through two steps. `stage_path`/`stage_upload` read it (hash + probe) and write
nothing the user would see: an upload is spooled to a hidden temp file beside the store, a
server-side file is only read. `store` then puts the bytes at `INPUTS_DIR/<sha256>.mp4` by an
atomic rename, unless they are already there: the same video is stored once, whoever sends it.

`inputs_lock()` serialises "put a file and record who uses it" against "nobody uses it any more,
remove it" across processes, so a deletion never removes a file a new prompt just started using.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import av
import av.error
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from prompts.errors import InvalidInput

ROLES = ("color", "depth", "segmentation")
REQUIRED_ROLE = "color"
_TEMP_PREFIX = ".incoming-"


@dataclass(frozen=True)
class VideoFacts:
    width: int
    height: int
    fps: float
    frames: int
    codec: str
    duration: float


@dataclass
class StagedVideo:
    """A validated video not yet in the store: its facts, and where its bytes are now."""

    role: str
    sha256: str
    size: int
    facts: VideoFacts
    source: Path
    # A temp file in INPUTS_DIR that we own and must rename into place or remove.
    temp: Path | None = field(default=None)

    def info(self) -> dict:
        """What a Prompt records about this input (its `inputs[role]`)."""
        return {
            "path": stored_path(self.sha256).relative_to(settings.DATA_DIR).as_posix(),
            "sha256": self.sha256,
            "size": self.size,
            "width": self.facts.width,
            "height": self.facts.height,
            "fps": self.facts.fps,
            "frames": self.facts.frames,
            "codec": self.facts.codec,
            "duration": self.facts.duration,
        }


def stored_path(sha256: str) -> Path:
    """Where the video with this content lives."""
    return settings.INPUTS_DIR / f"{sha256}.mp4"


def probe_video(path: Path, *, label: str, field: str | None = None) -> VideoFacts:
    """Facts of the video at `path`; InvalidInput when it is not a video PyAV can decode.

    The first frame is decoded (the codec works) and every packet is demuxed (the file is whole);
    decoding every frame would cost seconds on long inputs and add nothing the remote side needs.
    """
    try:
        with av.open(str(path), mode="r") as container:
            if not container.streams.video:
                raise InvalidInput(f"{label} has no video stream. Give an mp4 video (H.264).", field=field)
            stream = container.streams.video[0]
            first = next(container.decode(stream), None)
            if first is None:
                raise InvalidInput(f"{label} holds no video frames. Give an mp4 video (H.264).", field=field)
            rate = stream.average_rate or stream.guessed_rate
            fps = round(float(rate), 3) if rate else 0.0
            frames = stream.frames or _count_packets(path)
            if stream.duration and stream.time_base:
                duration = float(stream.duration * stream.time_base)
            elif container.duration:
                duration = container.duration / av.time_base
            else:
                duration = frames / fps if fps else 0.0
            return VideoFacts(
                width=first.width,
                height=first.height,
                fps=fps,
                frames=frames,
                codec=stream.codec_context.name,
                duration=round(duration, 3),
            )
    except av.error.FFmpegError as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise InvalidInput(
            f"{label} is not a video that can be decoded ({reason}). Give an mp4 video (H.264).", field=field
        ) from exc


def _count_packets(path: Path) -> int:
    # Containers without a frame count in their header: one video packet is one frame.
    with av.open(str(path), mode="r") as container:
        stream = container.streams.video[0]
        return sum(1 for packet in container.demux(stream) if packet.size)


def stage_path(role: str, path: Path) -> StagedVideo:
    """Hash and probe a server-side file (already confined by the caller); nothing is written."""
    label = f"{role}.mp4" if path.name == f"{role}.mp4" else f"{role} video {path.name}"
    with path.open("rb") as handle:
        sha256 = hashlib.file_digest(handle, "sha256").hexdigest()
    facts = probe_video(path, label=label, field=role)
    return StagedVideo(role=role, sha256=sha256, size=path.stat().st_size, facts=facts, source=path)


def stage_upload(role: str, upload: UploadedFile) -> StagedVideo:
    """Spool an upload to a temp file beside the store while hashing it, then probe it."""
    label = f"{role} video {upload.name or ''}".strip()
    limit = settings.COSMOS_MAX_UPLOAD_BYTES
    if upload.size is not None and upload.size > limit:
        raise InvalidInput(f"{label} is {upload.size:,} bytes; the limit is {limit:,}.", field=role)
    temp = _temp_file()
    digest = hashlib.sha256()
    try:
        with temp.open("wb") as out:
            for chunk in upload.chunks():
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        facts = probe_video(temp, label=label, field=role)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return StagedVideo(
        role=role, sha256=digest.hexdigest(), size=temp.stat().st_size, facts=facts, source=temp, temp=temp
    )


def upload_sha256(upload: UploadedFile) -> str:
    """SHA-256 of an upload's bytes, read from the start (without keeping or probing them)."""
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    return digest.hexdigest()


def copy_ahead(staged: StagedVideo) -> None:
    """Copy a server-side file next to the store before taking the lock (so the lock is held briefly)."""
    if staged.temp is None and not stored_path(staged.sha256).exists():
        staged.temp = _copy_to_temp(staged.source)


def store(staged: StagedVideo) -> Path:
    """Put the staged bytes at their content address unless already there. Call under inputs_lock()."""
    target = stored_path(staged.sha256)
    if target.exists():
        discard(staged)
        return target
    if staged.temp is None:
        # The store lost this file since copy_ahead looked (a deletion in between): copy now.
        staged.temp = _copy_to_temp(staged.source)
    os.chmod(staged.temp, 0o644)  # mkstemp made it private; stored inputs are ordinary files
    os.replace(staged.temp, target)
    staged.temp = None
    return target


def discard(staged: StagedVideo) -> None:
    """Remove the temp file a staged video owns, if any."""
    if staged.temp is not None:
        staged.temp.unlink(missing_ok=True)
        staged.temp = None


def remove_stored(sha256: str) -> bool:
    """Remove the stored video with this content. Call under inputs_lock(), after checking no one uses it."""
    try:
        stored_path(sha256).unlink()
    except FileNotFoundError:
        return False
    return True


@contextmanager
def inputs_lock() -> Iterator[None]:
    """An exclusive lock on the input store, across processes (flock on INPUTS_DIR/.lock)."""
    settings.INPUTS_DIR.mkdir(parents=True, exist_ok=True)
    with open(settings.INPUTS_DIR / ".lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _temp_file() -> Path:
    settings.INPUTS_DIR.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=_TEMP_PREFIX, suffix=".mp4", dir=settings.INPUTS_DIR)
    os.close(fd)
    return Path(name)


def _copy_to_temp(source: Path) -> Path:
    temp = _temp_file()
    try:
        with source.open("rb") as src, temp.open("wb") as dst:
            shutil.copyfileobj(src, dst, 1024 * 1024)
            dst.flush()
            os.fsync(dst.fileno())
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return temp
