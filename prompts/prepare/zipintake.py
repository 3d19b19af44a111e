"""Unpack an uploaded zip of PNG frames safely: no path escapes, no empty zip, no zip bomb.

`zip_check` reads only the central directory and refuses, before anything is written: a file that
is not a zip, a zip with no files, encrypted entries, links, entries whose path is absolute or
climbs out with `..`, more than `max_entries` entries, more than `max_unpacked_bytes` declared, an
entry (or the whole zip) that claims to expand more than `max_ratio` times, and more than the free
disk space. `zip_extract` then unpacks entry by entry; `zipfile` stops each entry at the size its
header declares and checks its CRC, so a zip whose headers lie about sizes fails as damaged while
extracting, never writing more than was checked.
"""

from __future__ import annotations

import shutil
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from prompts.errors import InvalidInput

_FIELD = "zip"
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class ZipLimits:
    max_entries: int = 20_000
    max_unpacked_bytes: int = 8 * 1024**3
    # PNG data is already compressed: a real frame shrinks little in a zip, a bomb shrinks ~1000x.
    max_ratio: float = 100.0
    # Entries smaller than this are too small to harm anything, whatever their ratio.
    ratio_floor_bytes: int = 1024 * 1024


@dataclass(frozen=True)
class ZipSummary:
    files: int
    unpacked_bytes: int


def zip_check(path: Path, *, label: str, limits: ZipLimits = ZipLimits()) -> ZipSummary:
    """Check a zip's directory against the limits; InvalidInput saying what is wrong."""
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise InvalidInput(f"{label} is not a readable zip file ({exc}).", field=_FIELD) from None
    if len(entries) > limits.max_entries:
        raise InvalidInput(
            f"{label} holds {len(entries):,} entries; at most {limits.max_entries:,} are accepted.", field=_FIELD
        )
    files = [entry for entry in entries if not entry.is_dir()]
    if not files:
        raise InvalidInput(f"{label} is empty: zip the folder that holds the PNG frames.", field=_FIELD)
    seen: set[PurePosixPath] = set()
    unpacked = packed = 0
    for entry in files:
        relative = _relative_path(entry, label)
        if relative in seen:
            raise InvalidInput(f"{label} holds {entry.filename} twice.", field=_FIELD)
        seen.add(relative)
        ratio = entry.file_size / max(entry.compress_size, 1)
        if entry.file_size >= limits.ratio_floor_bytes and ratio > limits.max_ratio:
            raise InvalidInput(
                f"{label} looks like a zip bomb: {entry.filename} would expand {ratio:,.0f} times "
                f"(at most {limits.max_ratio:,.0f} is accepted).",
                field=_FIELD,
            )
        unpacked += entry.file_size
        packed += entry.compress_size
    if unpacked > limits.max_unpacked_bytes:
        raise InvalidInput(
            f"{label} would unpack to {_gib(unpacked)}; at most {_gib(limits.max_unpacked_bytes)} is accepted.",
            field=_FIELD,
        )
    if unpacked >= limits.ratio_floor_bytes and unpacked / max(packed, 1) > limits.max_ratio:
        raise InvalidInput(
            f"{label} looks like a zip bomb: it would expand {unpacked / max(packed, 1):,.0f} times "
            f"(at most {limits.max_ratio:,.0f} is accepted).",
            field=_FIELD,
        )
    return ZipSummary(files=len(files), unpacked_bytes=unpacked)


def zip_extract(path: Path, dest: Path, *, label: str, limits: ZipLimits = ZipLimits()) -> Path:
    """Unpack the checked zip into the empty folder `dest`; return the folder that holds the frames.

    That is `dest` itself, or the one folder the zip wraps its contents in (`renders/color.0001.png`).
    """
    summary = zip_check(path, label=label, limits=limits)
    free = shutil.disk_usage(dest).free
    if summary.unpacked_bytes > free:
        raise InvalidInput(
            f"{label} would unpack to {_gib(summary.unpacked_bytes)} but only {_gib(free)} of disk is free.",
            field=_FIELD,
        )
    try:
        with zipfile.ZipFile(path) as archive:
            for entry in archive.infolist():
                relative = _relative_path(entry, label) if not entry.is_dir() else None
                if relative is None or relative.parts[0] == "__MACOSX":  # macOS's resource forks
                    continue
                target = dest.joinpath(*relative.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(entry) as source, target.open("xb") as sink:
                    shutil.copyfileobj(source, sink, _CHUNK)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
        raise InvalidInput(f"{label} is damaged or uses an unsupported compression ({exc}).", field=_FIELD) from None
    except (FileExistsError, NotADirectoryError, IsADirectoryError) as exc:
        raise InvalidInput(
            f"{label} holds a file and a folder of the same name ({Path(exc.filename).name}).", field=_FIELD
        ) from None
    return _content_root(dest)


def _relative_path(entry: zipfile.ZipInfo, label: str) -> PurePosixPath:
    """The entry's path inside the zip, refused if it could land outside the extraction folder."""
    name = entry.filename.replace("\\", "/")  # zips made on Windows may use backslashes
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or (path.parts and path.parts[0].endswith(":")):
        raise InvalidInput(
            f"{label} is refused: the entry {entry.filename} points outside the zip's folder.", field=_FIELD
        )
    if stat.S_ISLNK(entry.external_attr >> 16):
        raise InvalidInput(f"{label} is refused: {entry.filename} is a link; zip the files themselves.", field=_FIELD)
    if entry.flag_bits & 0x1:
        raise InvalidInput(f"{label} is encrypted ({entry.filename}); upload a zip without a password.", field=_FIELD)
    parts = [part for part in path.parts if part not in ("", ".")]
    if not parts:
        raise InvalidInput(f"{label} holds an entry without a name.", field=_FIELD)
    return PurePosixPath(*parts)


def _content_root(dest: Path) -> Path:
    """Descend through folders that are the only thing (hidden files aside) in their parent."""
    folder = dest
    while True:
        children = [child for child in folder.iterdir() if not child.name.startswith(".")]
        if len(children) != 1 or not children[0].is_dir():
            return folder
        folder = children[0]


def _gib(size: int) -> str:
    return f"{size / 1024**3:.1f} GiB" if size >= 1024**3 else f"{size / 1024**2:.1f} MiB"
