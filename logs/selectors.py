"""Reads over a log file for pages and exports: a page of (filtered) entries, and a summary.

No access control here: logs/ knows files, not runs or users. Whoever calls these has already
decided that the user may read this log (the runs app checks the run first).

Unfiltered pages go straight to their lines through the file's line index; filtered pages
read the file once, holding one page. The summary (lines per level, first and last time) is
kept per file and extended with only the lines appended since it was last asked for.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice

from logs.files import LogFile
from logs.parsing import LEVELS, LineParser, LogEntry
from logs.viewer import LogFilter, Page, page_of, validate_page_size

SUMMARY_CACHE_FILES = 64
SUMMARY_READ_BYTES = 1024 * 1024


def log_page(log_file: LogFile, *, log_filter: LogFilter, number: int | None, size: int) -> Page:
    """Page `number` (1-based; None or past the end: the last page) of the entries that pass
    `log_filter`."""
    if log_filter.active:
        return page_of(log_filter.apply(log_file.entries()), number=number, size=size)
    validate_page_size(size)
    total = log_file.line_count()
    pages = max(1, -(-total // size))
    number = pages if number is None or number > pages else max(number, 1)
    first = (number - 1) * size
    items = []
    if total:
        entries = log_file.entries(log_file.offset_of_line(first), first_lineno=first + 1)
        items = list(islice(entries, min(size, total - first)))
    return Page(items=items, number=number, size=size, total=total)


def log_entries(log_file: LogFile, *, log_filter: LogFilter) -> Iterator[LogEntry]:
    """Every entry that passes the filter, lazily (for exports)."""
    return log_filter.apply(log_file.entries())


@dataclass
class LogSummary:
    lines: int = 0
    levels: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LEVELS, 0))
    first_time: datetime | None = None
    last_time: datetime | None = None


@dataclass
class _SummaryState:
    identity: tuple[int, int]
    summary: LogSummary
    parser: LineParser
    end: int = 0  # offset up to which the summary counts


_summaries: OrderedDict[str, _SummaryState] = OrderedDict()
_summaries_lock = threading.Lock()


def log_summary(log_file: LogFile) -> LogSummary:
    """How many lines of each level the log has, and the span of its times."""
    key = str(log_file.path.resolve())
    try:
        stat = log_file.path.stat()
    except FileNotFoundError:
        return LogSummary()
    identity = (stat.st_dev, stat.st_ino)
    with _summaries_lock:
        state = _summaries.get(key)
        if state is None or state.identity != identity or stat.st_size < state.end:
            state = _SummaryState(identity, LogSummary(), LineParser(year=log_file.default_year()))
        summary = state.summary
        while True:
            lines, end = log_file.read_from(state.end, SUMMARY_READ_BYTES)
            if not lines:
                break
            for entry in map(state.parser.parse, lines):
                summary.levels[entry.level] += 1
                if entry.timestamp is not None:
                    summary.first_time = summary.first_time or entry.timestamp
                    summary.last_time = entry.timestamp
            summary.lines += len(lines)
            state.end = end
        _summaries[key] = state
        _summaries.move_to_end(key)
        while len(_summaries) > SUMMARY_CACHE_FILES:
            _summaries.popitem(last=False)
        return LogSummary(summary.lines, dict(summary.levels), summary.first_time, summary.last_time)
