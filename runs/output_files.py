"""The files of a run's output folder as the pages show them, and safe lookup of one by name.

Names come from URLs, so `output_file_path` accepts one plain file name that is in the folder:
no separators, no `..`, no hidden files, no symlink leading out of the folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from runs.models import Run
from runs.selectors import run_output_dir

VIDEO_SUFFIXES = {".mp4", ".mov", ".mkv", ".webm"}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}
TEXT_SUFFIXES = {".txt", ".log", ".json", ".jsonl"}


@dataclass(frozen=True)
class OutputFile:
    name: str
    size: int
    kind: str  # video, image, text or other
    poster: str | None = None  # the jpg beside a video, when there is one


def _kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        return "video"
    if suffix in IMAGE_SUFFIXES:
        return "image"
    return "text" if suffix in TEXT_SUFFIXES else "other"


def output_files(run: Run) -> list[OutputFile]:
    """Regular, visible files of the run's folder, videos first, then by name."""
    folder = run_output_dir(run)
    if not folder.is_dir():
        return []
    paths = [p for p in folder.iterdir() if not p.name.startswith(".") and p.is_file() and not p.is_symlink()]
    names = {p.name for p in paths}
    files = []
    for path in paths:
        kind = _kind(path)
        poster = path.with_suffix(".jpg").name if kind == "video" else None
        files.append(OutputFile(path.name, path.stat().st_size, kind, poster if poster in names else None))
    return sorted(files, key=lambda f: (f.kind != "video", f.name))


def output_file_path(run: Run, name: str) -> Path | None:
    """The file `name` of the run's folder, or None when there is no such plain file."""
    if not name or name.startswith(".") or "/" in name or "\\" in name or "\x00" in name:
        return None
    folder = run_output_dir(run).resolve()
    path = folder / name
    if path.is_symlink() or not path.is_file() or path.resolve().parent != folder:
        return None
    return path
