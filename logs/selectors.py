"""Reads over a log file for pages and exports: a page of (filtered) entries, and a summary.

No access control here: logs/ knows files, not runs or users. Whoever calls these has already
decided that the user may read this log (the runs app checks the run first).

A line's level and time depend on the lines before it (a traceback line is an ERROR because a
`Traceback` line came earlier; an untimed line takes the previous time), so they are worked out
once, in order, per file, and kept in a `_LogTable` (one byte and one reference per line),
extended with only the lines appended since. With it:
- an unfiltered page goes straight to its lines through the file's line index, with the right
  levels even in the middle of a traceback;
- a filtered page decides on level, time and text from the table and the raw line, and parses
  only the lines that pass;
- the summary (lines per level, first and last time) costs nothing once the table is built.
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
from logs.batching import batched
from logs.viewer import SEARCH_BATCH, LogFilter, Page, page_of, validate_page_size

TABLE_CACHE_FILES = 16
TABLE_READ_BYTES = 1024 * 1024
_LEVEL_CODE = {level: code for code, level in enumerate(LEVELS)}


@dataclass(frozen=True)
class LogSummary:
    lines: int = 0
    levels: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LEVELS, 0))
    first_time: datetime | None = None
    last_time: datetime | None = None


def log_summary(log_file: LogFile) -> LogSummary:
    """How many lines of each level the log has, and the span of its times."""
    table = _table_for(log_file)
    if table is None:
        return LogSummary()
    with table.lock:
        levels = {level: table.levels.count(code) for level, code in _LEVEL_CODE.items()}
        return LogSummary(len(table.levels), levels, table.first_time, table.last_time)


def log_page(log_file: LogFile, *, log_filter: LogFilter, number: int | None, size: int) -> Page:
    """Page `number` (1-based; None or past the end: the last page) of the entries that pass
    `log_filter`."""
    if log_filter.active:
        return page_of(log_entries(log_file, log_filter=log_filter), number=number, size=size)
    validate_page_size(size)
    table = _table_for(log_file)
    total = len(table.levels) if table else 0
    pages = max(1, -(-total // size))
    number = pages if number is None or number > pages else max(number, 1)
    first = (number - 1) * size
    items = []
    if total:
        lines = islice(log_file.iter_lines(log_file.offset_of_line(first)), min(size, total - first))
        parser = LineParser()
        items = [table.entry(parser, first + i, offset, text) for i, (offset, text) in enumerate(lines)]
    return Page(items=items, number=number, size=size, total=total)


def log_entries(log_file: LogFile, *, log_filter: LogFilter) -> Iterator[LogEntry]:
    """Every entry that passes the filter, in order, lazily (pages and exports)."""
    table = _table_for(log_file)
    if table is None:
        return
    parser = LineParser()  # for the fields a line says itself; level and time come from the table
    deadline = log_filter.pass_deadline()
    with table.lock:
        known = len(table.levels)  # lines appended after this call are left for the next
    first = 0
    for batch in batched(islice(log_file.iter_lines(), known), SEARCH_BATCH):
        if log_filter.active:
            rows = [(LEVELS[table.levels[first + i]], table.times[first + i], text) for i, (_, text) in enumerate(batch)]
            chosen = log_filter.select_lines(rows, deadline=deadline)
        else:
            chosen = range(len(batch))
        for i in chosen:
            entry = table.entry(parser, first + i, *batch[i])
            if log_filter.matches_source(entry.source):
                yield entry
        first += len(batch)


class _LogTable:
    """Level code and effective time of every whole line of one file, in order."""

    def __init__(self, identity: tuple[int, int], year: int | None):
        self.identity = identity
        self.parser = LineParser(year=year)  # carries traceback and time state across extends
        self.end = 0
        self.levels = bytearray()
        self.times: list[datetime | None] = []
        self.first_time: datetime | None = None
        self.last_time: datetime | None = None
        self.lock = threading.Lock()

    def extend(self, log_file: LogFile) -> None:
        while True:
            lines, end = log_file.read_from(self.end, TABLE_READ_BYTES)
            if not lines:
                return
            for entry in map(self.parser.parse, lines):
                self.levels.append(_LEVEL_CODE[entry.level])
                self.times.append(entry.timestamp)
                if self.first_time is None:
                    self.first_time = entry.timestamp
            self.last_time = self.parser.last_timestamp
            self.end = end

    def entry(self, parser: LineParser, index: int, offset: int, text: str) -> LogEntry:
        """Line `index` (0-based) as an entry: its own fields from `parser`, level and time from here."""
        entry = parser.parse(text, lineno=index + 1, offset=offset)
        entry.level = LEVELS[self.levels[index]]
        entry.timestamp = self.times[index]
        return entry


_tables: OrderedDict[str, _LogTable] = OrderedDict()
_tables_lock = threading.Lock()


def _table_for(log_file: LogFile) -> _LogTable | None:
    """The file's table, brought up to date; None when there is no file."""
    try:
        stat = log_file.path.stat()
    except FileNotFoundError:
        return None
    key = str(log_file.path.resolve())
    identity = (stat.st_dev, stat.st_ino)
    with _tables_lock:
        table = _tables.get(key)
        if table is None or table.identity != identity or stat.st_size < table.end:
            table = _LogTable(identity, log_file.default_year())
        _tables[key] = table
        _tables.move_to_end(key)
        while len(_tables) > TABLE_CACHE_FILES:
            _tables.popitem(last=False)
    with table.lock:  # per file: a big first scan does not hold up other logs
        table.extend(log_file)
    return table
