"""Turn one log line into a `LogEntry`: time, level, source, message, and whether it is progress.

The lines come from the Cosmos container (loguru on rank 0, Python tracebacks, tqdm bars),
from torchrun and docker, and from our own remote scripts. Recognised forms:

- loguru: `[09-08 01:15:45|INFO|cosmos_transfer1/.../transfer.py:187:parse_arguments] final args: ...`
  (no year in the line: the parser is given one, default the current year; times are naive,
  in the container's clock, which is UTC unless the image says otherwise);
- an ISO time at the start (`2024-01-01 12:00:00 [INFO] ...`, `2024-01-01 12:00:00,123 INFO ...`);
- Python tracebacks, also behind torchrun's `[rank0]: ` prefix: the `Traceback` line, its
  indented continuation lines and the closing `SomeError: ...` line are ERROR;
- tqdm bars (`  0%|          | 0/1 [00:00<?, ?it/s]`): INFO with `progress=True`;
- anything else: INFO, or the level word it contains (`WARNING`, `ERROR`, ...).

A traceback spans lines, so parsing is stateful: `LineParser` carries that state (and the last
timestamp, which untimed lines such as traceback lines inherit). `parse_line` is the one-shot
form. `progress_from_line` reads the generation stage and step numbers from a line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import date, datetime

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# Other spellings folded onto the five levels (loguru's TRACE and SUCCESS included).
LEVEL_ALIASES = {"TRACE": "DEBUG", "SUCCESS": "INFO", "WARN": "WARNING", "FATAL": "CRITICAL", "ERR": "ERROR"}

_LOGURU = re.compile(
    r"\[(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?\|\s*([A-Za-z]+)\s*\|"
    r"([^:|\]]*):(\d+):([^\]]*)\] ?(.*)",
    re.DOTALL,
)
_ISO = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(?:[.,](\d{1,6})\d*)?(?:Z|[+-]\d\d:?\d\d)?\s*(.*)", re.DOTALL
)
# glog, as torch and torchrun print it: `E0908 01:15:50.123000 140 torch/.../api.py:869] failed ...`.
_GLOG = re.compile(r"([IWEF])(\d\d)(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6})\d*)? (.*)", re.DOTALL)
_GLOG_LEVELS = {"I": "INFO", "W": "WARNING", "E": "ERROR", "F": "CRITICAL"}
# A level word right after the time: `[INFO] msg`, `INFO msg`, `INFO: msg`, `| INFO | msg`.
_LEADING_LEVEL = re.compile(
    r"[\[|]?\s*(TRACE|DEBUG|INFO|SUCCESS|WARNING|WARN|ERROR|CRITICAL|FATAL)\s*[\]|:]?\s+(.*)", re.DOTALL
)
_LEVEL_WORD = re.compile(r"\b(CRITICAL|FATAL|ERROR|WARNING|WARN|DEBUG|TRACE)\b")
_EXCEPTION_LINE = re.compile(r"(?:[A-Za-z_]\w*\.)*\w*(?:Error|Exception|Exit|Interrupt|Failure)(?::|$)")
# Lower-case error reports: argparse's `transfer.py: error: ...`, docker's `Error response from daemon`.
_ERROR_PHRASE = re.compile(r"\b(?:error|fatal):|\bError response from daemon", re.IGNORECASE)
_WARNING_LINE = re.compile(r"\b[A-Za-z_]*Warning: ")
_RANK_PREFIX = re.compile(r"\[(?:rank|default)\d+\]: ?")
# Matched from the line start (never searched: a lazy prefix searched at every position is quadratic).
_TQDM = re.compile(r"(.*?):?\s*(\d{1,3})%\|[^|]*\|\s*(\d+)/(\d+)")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_TRACEBACK_CONTINUES = ("Traceback (most recent call last)", "During handling of", "The above exception")


@dataclass(slots=True)
class LogEntry:
    """One log line. `source` is the file that logged it (loguru lines only), `source_line` and
    `function` its line and function; `lineno` (1-based) and `offset` (bytes) place the line in
    its log file when it was read from one."""

    message: str
    level: str = "INFO"
    timestamp: datetime | None = None
    source: str = ""
    source_line: int | None = None
    function: str = ""
    raw: str = ""
    lineno: int | None = None
    offset: int | None = None
    progress: bool = False

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            self.level = normalize_level(self.level) or "INFO"
        if not self.raw:
            self.raw = self.message

    def to_dict(self) -> dict:
        data = asdict(self)
        data["timestamp"] = self.timestamp.isoformat() if self.timestamp else None
        return data


def normalize_level(word: str) -> str | None:
    """`warn` -> `WARNING`; None when the word is no level."""
    upper = word.strip().upper()
    upper = LEVEL_ALIASES.get(upper, upper)
    return upper if upper in LEVELS else None


class LineParser:
    """Parses the lines of one log in order, remembering whether a traceback is open and the last
    timestamp seen. Not thread-safe: one parser per reader."""

    def __init__(self, *, year: int | None = None):
        self.year = year or date.today().year
        self.in_traceback = False
        self.last_timestamp: datetime | None = None
        self._time_key: tuple | None = None
        self._time_value: datetime | None = None

    def parse(self, line: str, *, lineno: int | None = None, offset: int | None = None) -> LogEntry:
        line = line.rstrip("\r\n")
        if "\x1b" in line:
            line = _ANSI.sub("", line)
        if "\r" in line:
            # A tqdm bar redrawn in place: what a terminal would show is the last frame.
            line = next((part for part in reversed(line.split("\r")) if part.strip()), "")
        entry = self._loguru(line) if line.startswith("[") else None
        if entry is None:
            entry = self._plain(line)
        entry.lineno = lineno
        entry.offset = offset
        if entry.timestamp is None:
            entry.timestamp = self.last_timestamp
        else:
            self.last_timestamp = entry.timestamp
        return entry

    def parse_many(self, lines: Iterable[str]) -> Iterator[LogEntry]:
        for line in lines:
            yield self.parse(line)

    def _loguru(self, line: str) -> LogEntry | None:
        match = _LOGURU.match(line)
        if match is None:
            return None
        mon, day, hour, minute, sec, frac, level, source, source_line, function, message = match.groups()
        self.in_traceback = False
        return LogEntry(
            message=message,
            level=normalize_level(level) or "INFO",
            timestamp=self._time(self.year, mon, day, hour, minute, sec, frac),
            source=source,
            source_line=int(source_line),
            function=function,
            raw=line,
        )

    def _plain(self, line: str) -> LogEntry:
        timestamp, level, message = self._time_prefix(line)
        if level is not None:
            self.in_traceback = False
        body = line
        rank = _RANK_PREFIX.match(body)
        if rank:
            body = body[rank.end() :]
        if level is None:
            level = self._traceback_level(body)
        progress = False
        if level is None:
            progress = "%|" in body and _TQDM.match(body) is not None
            level = "INFO" if progress else self._word_level(body)
        return LogEntry(message=message, level=level, timestamp=timestamp, raw=line, progress=progress)

    def _time_prefix(self, line: str) -> tuple[datetime | None, str | None, str]:
        """(time, level, rest) from a glog or ISO time prefix; (None, None, line) without one."""
        if line[:1] in _GLOG_LEVELS:
            match = _GLOG.match(line)
            if match:
                letter, mon, day, hour, minute, sec, frac, message = match.groups()
                return self._time(self.year, mon, day, hour, minute, sec, frac), _GLOG_LEVELS[letter], message
        elif line[:1].isdigit():
            match = _ISO.match(line)
            if match:
                year, mon, day, hour, minute, sec, frac, message = match.groups()
                timestamp = self._time(int(year), mon, day, hour, minute, sec, frac)
                leading = _LEADING_LEVEL.match(message)
                if leading:
                    return timestamp, normalize_level(leading.group(1)), leading.group(2)
                return timestamp, None, message
        return None, None, line

    def _traceback_level(self, body: str) -> str | None:
        """ERROR for every line of a Python traceback, else None (and the traceback is over)."""
        if body.startswith(_TRACEBACK_CONTINUES):
            self.in_traceback = True
            return "ERROR"
        if _EXCEPTION_LINE.match(body):
            self.in_traceback = False
            return "ERROR"
        if self.in_traceback and body[:1] in (" ", "\t", "^", "~"):
            return "ERROR"
        self.in_traceback = False
        return None

    @staticmethod
    def _word_level(body: str) -> str:
        lower = body.lower()
        # Most lines name no level at all: a few substring tests (fast, in C) rule that out
        # before any regular expression runs.
        if not (
            "error" in lower
            or "warn" in lower
            or "fatal" in lower
            or "critical" in lower
            or "debug" in lower
            or "trace" in lower
            or "cuda out of memory" in lower
        ):
            return "INFO"
        if "CUDA out of memory" in body:
            return "ERROR"
        match = _LEVEL_WORD.search(body)
        if match:
            return normalize_level(match.group(1)) or "INFO"
        if _ERROR_PHRASE.search(body):
            return "ERROR"
        if _WARNING_LINE.search(body):
            return "WARNING"
        return "INFO"

    def _time(self, year: int, mon: str, day: str, hour: str, minute: str, sec: str, frac: str | None) -> datetime | None:
        key = (year, mon, day, hour, minute, sec, frac)
        # Busy logs print many lines per second: reuse the last datetime when the text repeats.
        if key == self._time_key:
            return self._time_value
        try:
            micro = int(frac.ljust(6, "0")) if frac else 0
            value = datetime(year, int(mon), int(day), int(hour), int(minute), int(sec), micro)
        except ValueError:  # 02-30 and the like: keep the line, drop the impossible time
            value = None
        self._time_key, self._time_value = key, value
        return value


def parse_line(line: str, *, year: int | None = None) -> LogEntry:
    """Parse one line on its own (no traceback context from earlier lines)."""
    return LineParser(year=year).parse(line)


# The stages of one Cosmos Transfer generation, in the order the log walks through them.
STAGES = (
    ("args", "Reading arguments"),
    ("loading_model", "Loading model"),
    ("preprocessing", "Preprocessing inputs"),
    ("text_encoding", "Encoding prompt (T5)"),
    ("generation", "Generating"),
    ("diffusion", "Diffusion sampling"),
    ("vae_decode", "Decoding video (VAE)"),
    ("guardrail", "Safety check of the video"),
    ("saved", "Saved"),
)
_STAGE_INDEX = {name: index for index, (name, _label) in enumerate(STAGES, start=1)}
_STAGE_LABEL = dict(STAGES)
# Message fragments that announce a stage, checked in this order ("Running batch generation"
# is preprocessing and must be tried before "Run generation" could match a looser rule).
_STAGE_MARKERS = (
    ("final args", "args"),
    ("Loading ctrl model", "loading_model"),
    ("Loading model", "loading_model"),
    ("Loading checkpoint", "loading_model"),
    ("running preprocessor", "preprocessing"),
    ("Running batch generation", "preprocessing"),
    ("Running guardrail checks on all prompts", "preprocessing"),
    ("T5 compute", "text_encoding"),
    ("Run generation", "generation"),
    ("diffusion sampling", "diffusion"),
    ("VAE decode", "vae_decode"),
    ("Run guardrail on generated videos", "guardrail"),
    ("Saved video to ", "saved"),
    ("Saved prompt to ", "saved"),
)


def progress_from_line(line: str) -> dict | None:
    """The generation progress a line announces, or None when it announces none.

    Returns `{"stage", "label", "stage_index", "stage_count"}` plus, when the line says so,
    `step`/`steps` (diffusion steps done, per-step bars), `clip`/`clips` (clips done),
    `percent` (of the bar) and `path` (of a saved file). Stages repeat: Transfer 1's clip bar
    (stage "generation") wraps the sampling and decoding of each clip.
    """
    text = line.rstrip("\r\n")
    if "\r" in text:
        text = next((part for part in reversed(text.split("\r")) if part.strip()), "")
    match = _LOGURU.match(text) if text.startswith("[") else None
    message = match.group(11) if match else text
    if "%|" in message:
        return _progress_from_bar(message)
    for marker, stage in _STAGE_MARKERS:
        if marker in message:
            info = _stage(stage)
            if stage == "saved":
                info["path"] = message.split(marker, 1)[1].strip()
            return info
    return None


def _progress_from_bar(message: str) -> dict | None:
    bar = _TQDM.match(message)
    if bar is None:
        return None
    description, percent, done, total = bar.groups()
    description = (description or "").strip().lower()
    # Transfer 2.5 names its per-step bar ("Generating samples"); Transfer 1's bare bar counts clips.
    if "sampl" in description or "step" in description:
        info = _stage("diffusion")
        info.update(step=int(done), steps=int(total))
    else:
        info = _stage("generation")
        info.update(clip=int(done), clips=int(total))
    info["percent"] = min(int(percent), 100)
    return info


def _stage(name: str) -> dict:
    return {"stage": name, "label": _STAGE_LABEL[name], "stage_index": _STAGE_INDEX[name], "stage_count": len(STAGES)}
