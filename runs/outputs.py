"""Where a run's files live, and the files that describe them: manifest and posters.

    outputs/run_<id>/      output.mp4, output.txt, <hint>_input_control_0.mp4, spec.json,
                           execution.log, output.jpg (a poster per video), manifest.txt
    outputs/batch_<name>_<timestamp>/   batch_spec.json, batch.jsonl, batch_run.log

Files arrive in a hidden staging folder on the same disk and are moved in by rename, so a
reader never sees half a video; the manifest is written last, so a run folder with a
manifest is complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import av
from django.conf import settings
from PIL import Image

from runs.models import Job, Run
from runs.selectors import run_output_dir

MANIFEST = "manifest.txt"
LOG_NAME = "execution.log"
SPEC_NAME = "spec.json"
BATCH_LOG = "batch_run.log"
BATCH_SPEC = "batch_spec.json"
BATCH_JSONL = "batch.jsonl"
VIDEO_SUFFIXES = {".mp4", ".mov", ".mkv", ".webm"}
MANIFEST_HEADER = "# sha256  size  name  (written when the run finished; `cosmos verify` checks it)\n"


def run_log_path(run: Run) -> Path:
    return run_output_dir(run) / LOG_NAME


def batch_dir(job: Job) -> Path:
    return settings.OUTPUTS_DIR / job.folder


def staging_dir(job: Job) -> Path:
    """A fresh hidden folder for a job's downloads, on the outputs disk (renames stay atomic)."""
    root = settings.OUTPUTS_DIR / ".incoming"
    root.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{job.name}-", dir=root))


def write_json(path: Path, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    temp.write_text(text, encoding="utf-8")
    os.replace(temp, path)


def move_into(files: dict[str, Path], folder: Path) -> list[str]:
    """Move staged files into `folder` under the given names, each by an atomic rename."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, source in files.items():
        os.replace(source, folder / name)
    return sorted(files)


def posters_write(folder: Path) -> list[str]:
    """A JPEG of the first frame beside every video of `folder`; returns the poster names."""
    written = []
    for video in sorted(folder.iterdir()):
        if video.suffix.lower() in VIDEO_SUFFIXES and video.is_file():
            poster = video.with_suffix(".jpg")
            if poster_write(video, poster):
                written.append(poster.name)
    return written


def poster_write(video: Path, poster: Path) -> bool:
    """Decode one frame with PyAV, save it with Pillow. False for a file with no frame."""
    try:
        with av.open(str(video)) as container:
            frame = next(container.decode(video=0), None)
    except (av.error.FFmpegError, StopIteration):
        return False
    if frame is None:
        return False
    image: Image.Image = frame.to_image()
    temp = poster.with_name(f".{poster.name}.tmp")
    image.convert("RGB").save(temp, format="JPEG", quality=85)
    os.replace(temp, poster)
    return True


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def manifest_write(folder: Path) -> dict[str, dict[str, Any]]:
    """Write manifest.txt for every file of `folder` (not itself); return {name: {size, sha256}}."""
    entries = {}
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.name != MANIFEST and not path.name.startswith("."):
            entries[path.name] = {"size": path.stat().st_size, "sha256": file_sha256(path)}
    lines = [f"{info['sha256']}  {info['size']}  {name}\n" for name, info in entries.items()]
    write_text(folder / MANIFEST, MANIFEST_HEADER + "".join(lines))
    return entries


def manifest_read(folder: Path) -> dict[str, dict[str, Any]] | None:
    """The entries of a folder's manifest, or None when it has none."""
    path = folder / MANIFEST
    if not path.is_file():
        return None
    entries = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        sha, size, name = line.split("  ", 2)
        entries[name] = {"sha256": sha, "size": int(size)}
    return entries


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
