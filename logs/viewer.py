"""`LogFilter` and `LogViewer`: the seed's log viewer as a library, with no web or Django in it.

`LogFilter` selects entries by level, text (case-insensitive), regular expression, time range and
source file, and gives the spans to highlight. It validates what it is given and raises
`LogQueryError` with a message that says what to fix. Regular expressions come from users and run
on our server: they are length-capped and run under a time limit (the `regex` package's timeout;
the standard `re` has none), so a catastrophic pattern becomes a clear error, never a hung worker.
A timed search costs microseconds of set-up, so a pattern is run over batches of lines joined,
and only the lines that search points at are searched one by one (same result as line by line).

`LogViewer` is a bounded in-memory buffer of entries (the oldest fall out) with a thread-safe
stream callback to feed it, filtering, search with highlight spans, pages, per-level counts and
exports.
`page_of` pages any iterable of entries without holding more than one page of them.
"""

from __future__ import annotations

import re
import threading
import time
from bisect import bisect_right
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import accumulate
from typing import NamedTuple

import regex

from logs.batching import batched
from logs.errors import LogQueryError
from logs.exports import export
from logs.parsing import LEVELS, LineParser, LogEntry, normalize_level

REGEX_MAX_LENGTH = 200
SEARCH_MAX_LENGTH = 500
# One pathological line may take this long before the pattern is refused...
REGEX_LINE_TIMEOUT = 0.1
# ...and one pass of a pattern over a whole log this long.
REGEX_PASS_TIMEOUT = 5.0
MAX_SPANS_PER_LINE = 100
SEARCH_BATCH = 256  # lines tested together (one joined regex search finds the next candidate)

Span = tuple[int, int]


@dataclass(frozen=True)
class LogFilter:
    """Which entries to keep. Empty fields keep everything; all given fields must match.

    Times: entries carry naive times (the log's own clock); aware bounds are converted to UTC
    and compared naive. An entry without a time never matches a time range.
    """

    levels: frozenset[str] = frozenset()
    search_text: str = ""
    regex_pattern: str = ""
    start_time: datetime | None = None
    end_time: datetime | None = None
    source: str = ""
    _regex: regex.Pattern | None = field(init=False, repr=False, compare=False, default=None)
    _joined_regex: regex.Pattern | None = field(init=False, repr=False, compare=False, default=None)
    _text: re.Pattern | None = field(init=False, repr=False, compare=False, default=None)
    _needle: str = field(init=False, repr=False, compare=False, default="")
    _source_needle: str = field(init=False, repr=False, compare=False, default="")

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen: normalised values are set once, here
        set_(self, "levels", _levels(self.levels))
        set_(self, "search_text", (self.search_text or "").strip())
        set_(self, "regex_pattern", self.regex_pattern or "")
        set_(self, "source", (self.source or "").strip())
        set_(self, "start_time", _naive(self.start_time))
        set_(self, "end_time", _naive(self.end_time))
        if len(self.search_text) > SEARCH_MAX_LENGTH:
            raise LogQueryError(
                f"The search text is {len(self.search_text)} characters long; use at most {SEARCH_MAX_LENGTH}.",
                field="search_text",
            )
        set_(self, "_needle", self.search_text.lower())
        set_(self, "_source_needle", self.source.lower())
        if self.search_text:
            set_(self, "_text", re.compile(re.escape(self.search_text), re.IGNORECASE))
        if self.regex_pattern:
            set_(self, "_regex", compile_user_regex(self.regex_pattern))
            if _searchable_joined(self.regex_pattern):
                set_(self, "_joined_regex", regex.compile(self.regex_pattern, self._regex.flags | regex.MULTILINE))
        if self.start_time and self.end_time and self.start_time > self.end_time:
            raise LogQueryError("The start of the time range is after its end: swap them.", field="start_time")

    @property
    def active(self) -> bool:
        """True when the filter would drop anything."""
        return bool(
            self.levels or self.search_text or self.regex_pattern or self.start_time or self.end_time or self.source
        )

    def pass_deadline(self) -> float:
        """When a pass over a log that starts now must be done by (the pattern's time budget)."""
        return time.monotonic() + REGEX_PASS_TIMEOUT

    def apply(self, entries: Iterable[LogEntry]) -> Iterator[LogEntry]:
        """The entries that match, lazily. Raises LogQueryError when the pattern is too slow."""
        if not self.active:
            yield from entries
            return
        if self._regex is None:  # nothing gains from batching: test entry by entry
            for entry in entries:
                if self._passes_plain_tests(entry.level, entry.timestamp, entry.raw) and self.matches_source(entry.source):
                    yield entry
            return
        deadline = self.pass_deadline()
        for batch in batched(entries, SEARCH_BATCH):
            for index in self.select_lines([(e.level, e.timestamp, e.raw) for e in batch], deadline=deadline):
                if self.matches_source(batch[index].source):
                    yield batch[index]

    def matches(self, entry: LogEntry, *, deadline: float | None = None) -> bool:
        return bool(self.select_lines([(entry.level, entry.timestamp, entry.raw)], deadline=deadline)) and (
            self.matches_source(entry.source)
        )

    def select_lines(self, rows: Sequence[tuple[str, datetime | None, str]], *, deadline: float | None = None) -> list[int]:
        """Positions of the rows (level, time, raw line) that pass every test but the source
        file's: all that can be decided without parsing a line."""
        kept = [index for index, (level, when, raw) in enumerate(rows) if self._passes_plain_tests(level, when, raw)]
        if self._regex is None or not kept:
            return kept
        return [kept[index] for index in self._regex_lines([rows[index][2] for index in kept], deadline)]

    def _passes_plain_tests(self, level: str, timestamp: datetime | None, raw: str) -> bool:
        if self.levels and level not in self.levels:
            return False
        if self.start_time or self.end_time:
            if timestamp is None:
                return False
            if timestamp.tzinfo is not None:
                timestamp = _naive(timestamp)
            if (self.start_time and timestamp < self.start_time) or (self.end_time and timestamp > self.end_time):
                return False
        return not self.search_text or self._needle in raw.lower()

    def _regex_lines(self, raws: list[str], deadline: float | None) -> list[int]:
        """Positions of the lines the pattern matches. A timed search costs a few microseconds, so
        rather than one per line, one search over the lines joined finds the next line that may
        match, and that line alone is then searched. A line the pattern matches on its own is
        found that way too, unless the pattern looks past the line (anchors to the whole text,
        lookarounds, atomic groups): such patterns are searched line by line."""
        if self._joined_regex is None or len(raws) == 1:
            return [index for index, raw in enumerate(raws) if self._search_line(raw, deadline)]
        joined = "\n".join(raws)
        starts = list(accumulate((len(raw) + 1 for raw in raws[:-1]), initial=0))
        found = []
        line = 0
        while line < len(raws):
            try:
                match = self._joined_regex.search(joined, starts[line], timeout=_line_timeout(deadline))
            except TimeoutError:  # slow across lines: line by line decides, and fails only if slow too
                found += [index for index in range(line, len(raws)) if self._search_line(raws[index], deadline)]
                break
            if match is None:
                break
            line = bisect_right(starts, match.start()) - 1
            if self._search_line(raws[line], deadline):
                found.append(line)
            line += 1
        return found

    def _search_line(self, raw: str, deadline: float | None) -> bool:
        try:
            return self._regex.search(raw, timeout=_line_timeout(deadline)) is not None
        except TimeoutError:
            raise _too_slow() from None

    def matches_source(self, source: str) -> bool:
        return not self.source or self._source_needle in source.lower()

    def spans(self, text: str) -> list[Span]:
        """Where the search text and the pattern occur in `text`: sorted, merged (start, end) pairs."""
        found: list[Span] = []
        if self._text is not None:
            found.extend(match.span() for match in self._text.finditer(text))
        if self._regex is not None:
            try:
                # finditer is lazy: the matches are collected inside the time limit.
                matches = [m.span() for m in self._regex.finditer(text, timeout=REGEX_LINE_TIMEOUT)]
            except TimeoutError:
                raise _too_slow() from None
            found.extend(span for span in matches if span[0] != span[1])
        return _merge(found)[:MAX_SPANS_PER_LINE]


def compile_user_regex(pattern: str) -> regex.Pattern:
    """Compile a pattern a user typed, case-insensitively, or raise LogQueryError saying why not."""
    if len(pattern) > REGEX_MAX_LENGTH:
        raise LogQueryError(
            f"The regular expression is {len(pattern)} characters long; use at most {REGEX_MAX_LENGTH}.",
            field="regex_pattern",
        )
    try:
        return regex.compile(pattern, regex.IGNORECASE | regex.VERSION0)
    except regex.error as error:
        raise LogQueryError(f"Invalid regular expression: {error}.", field="regex_pattern") from None


# What may let a pattern see past one line: anchors to the whole text (\A \Z \z \G), possessive
# repeats, backtracking verbs; and any (?...) group but plain, named, comment and i/s/x flag ones
# (that leaves out lookarounds, atomic groups, and flags such as -m that undo MULTILINE).
_LOOKS_PAST_LINE = re.compile(r"\\[AZzG]|[*+?}]\+|\(\*")
_PLAIN_GROUP = re.compile(r"\(\?(?:[:#]|P?<[A-Za-z_]|P[=>]|[isx]+[:)])")


def _searchable_joined(pattern: str) -> bool:
    """Whether every line this pattern matches on its own is also found by a search of lines joined
    with newlines (in MULTILINE mode), at the same place."""
    if _LOOKS_PAST_LINE.search(pattern):
        return False
    return pattern.count("(?") == len(_PLAIN_GROUP.findall(pattern))


def _line_timeout(deadline: float | None) -> float:
    """How long the pattern may run on the next line: the per-line limit, or what is left of the pass."""
    if deadline is None:
        return REGEX_LINE_TIMEOUT
    left = deadline - time.monotonic()
    if left <= 0:
        raise _too_slow()
    return min(REGEX_LINE_TIMEOUT, left)


def _too_slow() -> LogQueryError:
    return LogQueryError(
        "The regular expression takes too long on this log. Make it simpler: avoid nested repeats "
        "such as (a+)+ or (.*)* and alternatives that overlap.",
        field="regex_pattern",
    )


def _levels(levels: Iterable[str] | None) -> frozenset[str]:
    if isinstance(levels, str):
        levels = [levels]
    chosen = set()
    for word in levels or ():
        level = normalize_level(word)
        if level is None:
            raise LogQueryError(f"Unknown level {word!r}: choose from {', '.join(LEVELS)}.", field="levels")
        chosen.add(level)
    return frozenset(chosen)


def _naive(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


def _merge(spans: list[Span]) -> list[Span]:
    merged: list[Span] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


@dataclass(frozen=True)
class Page:
    """One page of a longer sequence; `number` counts from 1."""

    items: list
    number: int
    size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages

    @property
    def first_index(self) -> int:
        """0-based position of the first item in the whole sequence."""
        return (self.number - 1) * self.size


def validate_page_size(size: int) -> None:
    if size < 1:
        raise LogQueryError("The page size must be at least 1.", field="page_size")


def page_of(items: Iterable, *, number: int | None, size: int) -> Page:
    """Page `number` (1-based; None or past the end: the last page, as Django's paginator does)
    of `items`, read once, holding at most two pages: the way to page a log bigger than memory."""
    validate_page_size(size)
    first = (max(number, 1) - 1) * size if number is not None else -1
    chosen: list = []
    latest: deque = deque(maxlen=size)
    total = 0
    for item in items:
        if first <= total < first + size:
            chosen.append(item)
        latest.append(item)
        total += 1
    pages = max(1, -(-total // size))
    if number is None or number > pages:
        on_last_page = total - (pages - 1) * size
        return Page(items=list(latest)[len(latest) - on_last_page :], number=pages, size=size, total=total)
    return Page(items=chosen, number=max(number, 1), size=size, total=total)


class SearchHit(NamedTuple):
    entry: LogEntry
    spans: list[Span]


class LogViewer:
    """A bounded buffer of log entries: the newest `max_entries` are kept, older ones dropped."""

    def __init__(self, *, max_entries: int = 10_000, year: int | None = None):
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self.filter = LogFilter()
        self._entries: deque[LogEntry] = deque(maxlen=max_entries)
        self._counts: Counter[str] = Counter()
        self._parser = LineParser(year=year)
        self._next_lineno = 1
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def add_line(self, line: str) -> LogEntry:
        with self._lock:
            entry = self._parser.parse(line, lineno=self._next_lineno)
            self._append(entry)
        return entry

    def add_lines(self, lines: Iterable[str]) -> list[LogEntry]:
        with self._lock:
            added = []
            for line in lines:
                entry = self._parser.parse(line, lineno=self._next_lineno)
                self._append(entry)
                added.append(entry)
        return added

    def add_entry(self, entry: LogEntry) -> None:
        with self._lock:
            if entry.lineno is None:
                entry.lineno = self._next_lineno
            self._append(entry)

    def stream_callback(self) -> Callable[[str | Iterable[str]], None]:
        """A function a streamer calls, from any thread, with one line or a batch of lines."""

        def feed(lines: str | Iterable[str]) -> None:
            if isinstance(lines, str):
                self.add_lines(lines.splitlines() or [""])
            else:
                self.add_lines(lines)

        return feed

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._counts.clear()

    def entries(self) -> list[LogEntry]:
        with self._lock:
            return list(self._entries)

    def filtered(self, log_filter: LogFilter | None = None) -> list[LogEntry]:
        """The entries that pass `log_filter` (default: the viewer's own `filter`)."""
        return list((log_filter or self.filter).apply(self.entries()))

    def search(self, query: str, *, use_regex: bool = False) -> list[SearchHit]:
        """Entries containing `query` (text, case-insensitive, or a regular expression), with spans."""
        query_filter = LogFilter(regex_pattern=query) if use_regex else LogFilter(search_text=query)
        return [SearchHit(entry, query_filter.spans(entry.raw)) for entry in query_filter.apply(self.entries())]

    def page(self, number: int | None = 1, size: int = 50, *, log_filter: LogFilter | None = None) -> Page:
        return page_of((log_filter or self.filter).apply(self.entries()), number=number, size=size)

    def export(self, fmt: str, *, filtered: bool = True, title: str = "Log") -> str:
        """The buffer (filtered by `filter`, or all of it) as json, text, csv or html."""
        return export(self.filtered() if filtered else self.entries(), fmt, title=title)

    def stats(self) -> dict[str, int]:
        """How many buffered entries each level has (every level present, zero or not)."""
        with self._lock:
            return {level: self._counts[level] for level in LEVELS}

    def _append(self, entry: LogEntry) -> None:
        if len(self._entries) == self.max_entries:
            self._counts[self._entries[0].level] -= 1
        self._entries.append(entry)
        self._counts[entry.level] += 1
        self._next_lineno = (entry.lineno or self._next_lineno) + 1
