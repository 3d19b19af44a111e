"""Find the numbered frames of each render pass in a folder and check them, reporting every problem at once.

Accepted names: `<pass><sep><number>.png`, where `<pass>` is one of MODALITIES (any case), `<sep>`
is `.`, `_` or `-`, and `<number>` has any zero padding: `color.0001.png`, `depth_0001.png`,
`segmentation-1.png`. Frames lie directly in the folder. Hidden files are skipped; files that are
not images are ignored with a warning.

Checked here: a color pass exists; each pass is numbered without gaps; every pass has the same frame
numbers as color; every frame is a complete PNG (its header parses and it ends with the PNG end
marker) no larger than MAX_SIDE a side; all frames have one size; no pass mixes 16-bit and 8-bit
frames. Only headers and the last bytes of each file are read, so checking thousands of frames
takes a moment; a frame damaged in the middle of its pixel data is found when it is decoded
(`encode`), which again reports every such frame before failing.
"""

from __future__ import annotations

import os
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from prompts.errors import InvalidInput

MODALITIES = ("color", "depth", "segmentation", "edge", "vis", "normal")
REQUIRED = "color"
MAX_SIDE = 8192
# Problems of one kind listed one by one before the rest are summed up.
MAX_LISTED = 20

_NAME = re.compile(r"^(?P<pass>[A-Za-z]+)[._-](?P<number>\d{1,9})\.(?P<ext>[A-Za-z0-9]+)$")
_IMAGE_EXTENSIONS = {"png", "jpg", "jpeg", "exr", "tif", "tiff", "bmp", "tga", "webp", "dpx", "hdr"}
_PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"
_SIXTEEN_BIT_MODES = {"I;16", "I;16B", "I;16L", "I"}

# progress(stage, done, total): called from the thread that started the work.
Progress = Callable[[str, int, int], None]


class SequenceInvalid(InvalidInput):
    """A sequence that cannot be prepared; `problems` lists each reason, and so does the message."""

    def __init__(self, label: str, problems: list[str]):
        count = len(problems)
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(
            f"The sequence in {label} has {count} problem{'s' if count != 1 else ''}; fix "
            f"{'them' if count != 1 else 'it'} and try again:\n{lines}",
            field="sequence",
        )
        self.problems = list(problems)


@dataclass(frozen=True)
class PassFrames:
    """The frames of one render pass, in frame-number order."""

    name: str
    numbers: tuple[int, ...]
    paths: tuple[Path, ...]
    size: tuple[int, int] | None
    sixteen_bit: bool

    @property
    def pattern(self) -> str:
        """How the frames are named, e.g. `color.####.png` (for metadata.json)."""
        match = _NAME.match(self.paths[0].name)
        number = match["number"]
        start = match.start("number")
        return f"{self.paths[0].name[:start]}{'#' * len(number)}{self.paths[0].name[start + len(number):]}"


@dataclass
class SequenceReport:
    """What a folder holds and everything wrong with it; `ok` when it can be converted."""

    folder: Path
    label: str
    passes: dict[str, PassFrames] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def color(self) -> PassFrames:
        return self.passes[REQUIRED]

    @property
    def frame_count(self) -> int:
        return len(self.color.numbers)

    def raise_for_problems(self) -> None:
        if self.problems:
            raise SequenceInvalid(self.label, self.problems)


@dataclass(frozen=True)
class _Header:
    size: tuple[int, int] | None = None
    sixteen_bit: bool = False
    error: str | None = None


def sequence_inspect(folder: Path, *, label: str | None = None, progress: Progress | None = None) -> SequenceReport:
    """Find and check the frames in `folder`; `label` names the folder in messages (default: its path)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InvalidInput(f"{label or folder} is not a folder.", field="input_dir")
    report = SequenceReport(folder=folder, label=label or str(folder))
    frames = _collect(folder, report)
    if not frames:
        return report
    _check_numbering(frames, report)
    all_paths = [path for by_number in frames.values() for paths in by_number.values() for path in paths]
    headers = _read_headers(all_paths, progress)
    for name in MODALITIES:
        if name in frames:
            report.passes[name] = _pass_frames(name, frames[name], headers)
    _check_headers(report, headers)
    return report


def _collect(folder: Path, report: SequenceReport) -> dict[str, dict[int, list[Path]]]:
    """Sort the folder's files into frames by pass and number; note every file that is not one."""
    frames: dict[str, dict[int, list[Path]]] = defaultdict(lambda: defaultdict(list))
    not_png: dict[str, list[str]] = defaultdict(list)
    unknown: dict[str, list[str]] = defaultdict(list)
    unnamed: list[str] = []
    ignored: list[str] = []
    subfolders: list[str] = []
    with os.scandir(folder) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            if entry.name.startswith("."):
                continue
            if entry.is_dir():
                subfolders.append(entry.name)
                continue
            match = _NAME.match(entry.name)
            extension = entry.name.rpartition(".")[2].lower() if "." in entry.name else ""
            is_image = extension in _IMAGE_EXTENSIONS
            if match and match["pass"].lower() in MODALITIES and is_image:
                if extension == "png":
                    frames[match["pass"].lower()][int(match["number"])].append(Path(entry.path))
                else:
                    not_png[match["pass"].lower()].append(entry.name)
            elif match and is_image:
                unknown[match["pass"]].append(entry.name)
            elif is_image:
                unnamed.append(entry.name)
            else:
                ignored.append(entry.name)

    for name, files in not_png.items():
        report.problems.append(
            f"{_listing(files)} {'is' if len(files) == 1 else 'are'} not PNG: export the {name} pass as PNG frames."
        )
    for prefix, files in unknown.items():
        report.problems.append(
            f"{_listing(files)}: '{prefix}' is not a pass name; name the passes {', '.join(MODALITIES)} "
            "(color is required)."
        )
    if unnamed:
        report.problems.append(
            f"{_listing(unnamed)}: not named like a frame; name frames <pass>.<number>.png, e.g. color.0001.png."
        )
    if ignored:
        report.warnings.append(f"Ignored {_listing(ignored)}: not image frames.")
    if not frames and not report.problems:
        hint = f" The frames must lie directly in the folder, not in {_listing(subfolders)}." if subfolders else ""
        report.problems.append(
            f"No frames found in {report.label}: expected PNG frames named like color.0001.png, "
            f"depth.0001.png, segmentation.0001.png.{hint}"
        )
    elif subfolders:
        report.warnings.append(f"Ignored the subfolder{'s' if len(subfolders) > 1 else ''} {_listing(subfolders)}.")
    return frames


def _check_numbering(frames: dict[str, dict[int, list[Path]]], report: SequenceReport) -> None:
    gaps: dict[str, set[int]] = {}
    for name in MODALITIES:
        if name not in frames:
            continue
        twice = sorted(number for number, paths in frames[name].items() if len(paths) > 1)
        if twice:
            examples = [path.name for path in frames[name][twice[0]]]
            report.problems.append(
                f"{name}: {_frames(twice)} {_verb(twice, 'appears', 'appear')} more than once "
                f"(e.g. {' and '.join(examples)}); keep one file per frame."
            )
        numbers = sorted(frames[name])
        gaps[name] = set(range(numbers[0], numbers[-1] + 1)) - set(numbers)
        if gaps[name]:
            missing = sorted(gaps[name])
            report.problems.append(
                f"{name}: {_frames(missing)} {_verb(missing, 'is', 'are')} missing "
                f"(the pass runs {numbers[0]}-{numbers[-1]}); "
                "render the missing frames or renumber the pass."
            )
    if REQUIRED not in frames:
        report.problems.insert(
            0,
            f"No color pass: color frames (color.0001.png, ...) are required; found only "
            f"{', '.join(name for name in MODALITIES if name in frames)}.",
        )
        return
    color = set(frames[REQUIRED])
    for name in MODALITIES:
        if name == REQUIRED or name not in frames:
            continue
        numbers = set(frames[name])
        # A frame missing inside either pass is already reported as a gap: say it once.
        lacking = sorted(color - numbers - gaps[name])
        extra = sorted(numbers - color - gaps[REQUIRED])
        if not lacking and not extra:
            continue
        details = []
        if lacking:
            details.append(f"{name} lacks {_frames(lacking)}")
        if extra:
            details.append(f"{name} has {_frames(extra)} that color does not")
        report.problems.append(
            f"{name} does not match color: {len(numbers)} frames against {len(color)}; {'; '.join(details)}. "
            "Every pass needs the same frame numbers."
        )


def _read_headers(paths: list[Path], progress: Progress | None) -> dict[Path, _Header]:
    headers: dict[Path, _Header] = {}
    # Reading headers is mostly waiting for the disk: a few threads overlap that, even on two cores.
    with ThreadPoolExecutor(max_workers=8) as pool:
        for index, (path, header) in enumerate(zip(paths, pool.map(_read_header, paths), strict=True), 1):
            headers[path] = header
            if progress and (index % 50 == 0 or index == len(paths)):
                progress("checking frames", index, len(paths))
    return headers


def _read_header(path: Path) -> _Header:
    try:
        with Image.open(path) as image:
            if image.format != "PNG":
                return _Header(error=f"is a {image.format} file, not a PNG: export it as PNG")
            size, mode = image.size, image.mode
        with path.open("rb") as handle:
            handle.seek(-len(_PNG_END), os.SEEK_END)
            tail = handle.read()
    except UnidentifiedImageError:
        return _Header(error="is not an image file")
    except Image.DecompressionBombError:
        return _Header(error=f"is larger than {MAX_SIDE} pixels a side")
    except (OSError, SyntaxError, ValueError) as exc:
        return _Header(error=f"cannot be read ({exc})")
    if tail != _PNG_END:
        return _Header(error="is cut short (no PNG end marker): render or copy it again")
    if max(size) > MAX_SIDE:
        return _Header(error=f"is {size[0]}x{size[1]}, larger than {MAX_SIDE} pixels a side")
    return _Header(size=size, sixteen_bit=mode in _SIXTEEN_BIT_MODES)


def _pass_frames(name: str, by_number: dict[int, list[Path]], headers: dict[Path, _Header]) -> PassFrames:
    numbers = tuple(sorted(by_number))
    paths = tuple(by_number[number][0] for number in numbers)
    readable = [headers[path] for path in paths if headers[path].error is None]
    size = Counter(header.size for header in readable).most_common(1)[0][0] if readable else None
    sixteen_bit = bool(readable) and Counter(h.sixteen_bit for h in readable).most_common(1)[0][0]
    return PassFrames(name=name, numbers=numbers, paths=paths, size=size, sixteen_bit=sixteen_bit)


def _check_headers(report: SequenceReport, headers: dict[Path, _Header]) -> None:
    unreadable = [(path, header.error) for path, header in headers.items() if header.error]
    for path, error in sorted(unreadable)[:MAX_LISTED]:
        report.problems.append(f"{path.name} {error}.")
    if len(unreadable) > MAX_LISTED:
        report.problems.append(f"{len(unreadable) - MAX_LISTED} more frames cannot be read.")

    reference = report.passes[REQUIRED].size if REQUIRED in report.passes else None
    for frames in report.passes.values():
        readable = [(n, headers[p]) for n, p in zip(frames.numbers, frames.paths, strict=True) if not headers[p].error]
        if reference:
            by_size: dict[tuple[int, int], list[int]] = defaultdict(list)
            for number, header in readable:
                if header.size != reference:
                    by_size[header.size].append(number)
            for (width, height), numbers in by_size.items():
                report.problems.append(
                    f"{frames.name}: {_frames(numbers)} {_verb(numbers, 'is', 'are')} {width}x{height}; "
                    "every frame must be "
                    f"{reference[0]}x{reference[1]} like the color frames."
                )
        deep = [number for number, header in readable if header.sixteen_bit]
        if deep and len(deep) < len(readable):
            shallow = [number for number, header in readable if not header.sixteen_bit]
            report.problems.append(
                f"{frames.name}: {_frames(deep)} {_verb(deep, 'is', 'are')} 16-bit but {_frames(shallow)} "
                f"{_verb(shallow, 'is', 'are')} 8-bit; "
                "export the whole pass at one bit depth."
            )


def _frames(numbers: list[int]) -> str:
    return f"frame {numbers[0]}" if len(numbers) == 1 else f"frames {_ranges(numbers)}"


def _verb(numbers: list[int], singular: str, plural: str) -> str:
    return singular if len(numbers) == 1 else plural


def _ranges(numbers: Iterable[int], limit: int = 8) -> str:
    """`1-3, 5, 9-12`: runs of consecutive numbers, the first `limit` runs and a count of the rest."""
    runs: list[list[int]] = []
    for number in sorted(numbers):
        if runs and number == runs[-1][1] + 1:
            runs[-1][1] = number
        else:
            runs.append([number, number])
    parts = [str(a) if a == b else f"{a}-{b}" for a, b in runs[:limit]]
    if len(runs) > limit:
        parts.append(f"and {len(runs) - limit} more runs")
    return ", ".join(parts)


def _listing(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(names[:limit])
    return f"{shown} and {len(names) - limit} more" if len(names) > limit else shown
