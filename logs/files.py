"""A run's log file, the source of truth for its lines: append batches, read by byte offset.

Offsets are byte positions of line starts. A reader is given only whole lines: a batch being
written while it reads (one `write` per batch, O_APPEND) shows up complete on its next read,
never half. That is what lets a websocket resume from the offset a client last saw without
losing or repeating a line.

Huge logs (100,000+ lines) are paged through a sparse line index: the byte offset of every
`INDEX_STRIDE`-th line, built once per process by scanning the file and extended by scanning
only what was appended since. Reaching line N then costs a seek and at most a stride of lines.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path

from logs.errors import LogQueryError
from logs.parsing import LineParser, LogEntry

READ_BYTES = 256 * 1024  # default batch of a read_from: a websocket message's worth
SCAN_BLOCK = 1024 * 1024
INDEX_STRIDE = 1024
INDEX_CACHE_FILES = 64


class LogFile:
    """One log file on disk. A missing file reads as empty; `append` creates it (and its folder)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"LogFile({str(self.path)!r})"

    def size(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def append(self, lines: Iterable[str]) -> int:
        """Write `lines` (newline-terminated, in one write) and return the offset after them."""
        data = "".join(line[:-1] + "\n" if line.endswith("\n") else line + "\n" for line in lines)
        if not data:
            return self.size()
        payload = data.encode("utf-8", "replace")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            view = memoryview(payload)
            while view:  # a regular file takes it all in one call; loop only for the rare short write
                written = os.write(fd, view)
                view = view[written:]
            return os.lseek(fd, 0, os.SEEK_CUR)
        finally:
            os.close(fd)

    def read_from(
        self, offset: int = 0, max_bytes: int = READ_BYTES, *, max_lines: int | None = None
    ) -> tuple[list[str], int]:
        """Whole lines starting at `offset`, about `max_bytes` of them and at most `max_lines`
        (always at least one line when one is complete), and the offset after the last one."""
        _check_offset(offset)
        try:
            handle = open(self.path, "rb")
        except FileNotFoundError:
            return [], offset
        with handle:
            handle.seek(offset)
            data = handle.read(max_bytes)
            cut = data.rfind(b"\n")
            while cut < 0 and len(data) >= max_bytes:
                # A single line longer than max_bytes: read on to its end so readers always progress.
                more = handle.read(max_bytes)
                if not more:
                    break
                found = more.find(b"\n")
                data += more
                if found >= 0:
                    cut = len(data) - len(more) + found
        if cut < 0:
            return [], offset
        if max_lines is not None and data.count(b"\n", 0, cut + 1) > max_lines:
            cut = -1
            for _ in range(max_lines):
                cut = data.find(b"\n", cut + 1)
        return _decode_lines(data[:cut]), offset + cut + 1

    def read_before(self, offset: int, max_lines: int) -> tuple[list[str], int]:
        """Up to `max_lines` whole lines that end at `offset` (a line start), and where the first begins."""
        _check_offset(offset)
        if offset == 0 or max_lines <= 0:
            return [], offset
        past_end = LogQueryError(f"Offset {offset} is past the end of this log.", field="offset")
        try:
            handle = open(self.path, "rb")
        except FileNotFoundError:
            raise past_end from None
        with handle:
            if offset > os.fstat(handle.fileno()).st_size:
                raise past_end
            start = offset
            data = b""
            # Lines end at offset - 1; we need max_lines newlines before that to know where they begin.
            while start > 0 and data.count(b"\n", 0, max(len(data) - 1, 0)) < max_lines:
                step = min(SCAN_BLOCK // 4, start)
                start -= step
                handle.seek(start)
                data = handle.read(step) + data
        if not data.endswith(b"\n"):
            raise LogQueryError(f"Offset {offset} is not the start of a line of this log.", field="offset")
        parts = data[:-1].split(b"\n")
        if start > 0:
            parts = parts[1:]  # the first piece may be the tail of a longer line
        parts = parts[-max_lines:]
        first = offset - sum(len(part) + 1 for part in parts)
        return [_decode(part) for part in parts], first

    def tail(self, n: int) -> list[str]:
        """The last `n` whole lines."""
        return self.read_before(self.end(), n)[0]

    def end(self) -> int:
        """The offset just past the last whole line (a line still being written is not counted)."""
        return _index_for(self).end

    def line_count(self) -> int:
        """How many whole lines the file holds."""
        return _index_for(self).lines

    def offset_of_line(self, number: int) -> int:
        """Byte offset where line `number` (0-based) starts; `line_count()` gives `end()`."""
        index = _index_for(self)
        if not 0 <= number <= index.lines:
            raise LogQueryError(f"Line {number} is outside this log (0 to {index.lines}).", field="line")
        checkpoint = number // INDEX_STRIDE
        offset = index.checkpoints[checkpoint]
        to_skip = number - checkpoint * INDEX_STRIDE
        if to_skip == 0:
            return offset
        with open(self.path, "rb") as handle:
            handle.seek(offset)
            while True:
                block = handle.read(SCAN_BLOCK // 8)
                if not block:  # the file shrank under us since the index was read
                    raise LogQueryError(f"Line {number} is no longer in this log.", field="line")
                position = -1
                for _ in range(min(to_skip, block.count(b"\n"))):
                    position = block.find(b"\n", position + 1)
                    to_skip -= 1
                if to_skip == 0:
                    return offset + position + 1
                offset += len(block)

    def iter_lines(self, offset: int = 0, *, block: int = SCAN_BLOCK) -> Iterator[tuple[int, str]]:
        """(offset, text) of every whole line from `offset` to the end."""
        _check_offset(offset)
        try:
            handle = open(self.path, "rb")
        except FileNotFoundError:
            return
        with handle:
            handle.seek(offset)
            pending = b""
            while True:
                data = handle.read(block)
                if not data:
                    return
                data = pending + data
                cut = data.rfind(b"\n")
                if cut < 0:
                    pending = data
                    continue
                pending = data[cut + 1 :]
                for part in data[:cut].split(b"\n"):
                    yield offset, _decode(part)
                    offset += len(part) + 1

    def entries(self, offset: int = 0, *, first_lineno: int = 1, year: int | None = None) -> Iterator[LogEntry]:
        """Parsed entries from `offset` (whose line is number `first_lineno`, 1-based). Times
        without a year get `year`, default the year the file was last written."""
        parser = LineParser(year=year or self.default_year())
        for lineno, (line_offset, text) in enumerate(self.iter_lines(offset), start=first_lineno):
            yield parser.parse(text, lineno=lineno, offset=line_offset)

    def default_year(self) -> int | None:
        """The year of the file's last write: what loguru times, which print none, are taken to be in."""
        try:
            return datetime.fromtimestamp(self.path.stat().st_mtime).year
        except FileNotFoundError:
            return None


def _check_offset(offset: int) -> None:
    if not isinstance(offset, int) or offset < 0:
        raise LogQueryError(f"Offset must be a whole number of bytes, 0 or more (got {offset!r}).", field="offset")


def _decode(raw: bytes) -> str:
    text = raw.decode("utf-8", "replace")
    return text[:-1] if text.endswith("\r") else text


def _decode_lines(data: bytes) -> list[str]:
    """Lines of `data` (whole lines, the last newline already cut off)."""
    text = data.decode("utf-8", "replace")  # cut at a newline, so no character is split
    lines = text.split("\n")
    if "\r" in text:
        lines = [line[:-1] if line.endswith("\r") else line for line in lines]
    return lines


class _LineIndex:
    """Offsets of lines 0, STRIDE, 2*STRIDE, ... of one file, for the whole lines scanned so far."""

    def __init__(self, identity: tuple[int, int]):
        self.identity = identity
        self.checkpoints = [0]
        self.lines = 0  # whole lines scanned
        self.end = 0  # offset after the last whole line scanned

    def extend(self, handle) -> None:
        handle.seek(self.end)
        block_start = self.end
        while True:
            block = handle.read(SCAN_BLOCK)
            if not block:
                return
            newlines = block.count(b"\n")
            position = -1
            seen = self.lines
            # Line k starts after the k-th newline: find only the newlines that start a checkpoint.
            next_checkpoint = len(self.checkpoints) * INDEX_STRIDE
            while next_checkpoint <= self.lines + newlines:
                for _ in range(next_checkpoint - seen):
                    position = block.find(b"\n", position + 1)
                seen = next_checkpoint
                self.checkpoints.append(block_start + position + 1)
                next_checkpoint += INDEX_STRIDE
            if newlines:
                self.lines += newlines
                self.end = block_start + block.rfind(b"\n") + 1
            block_start += len(block)


_indexes: OrderedDict[str, _LineIndex] = OrderedDict()
_indexes_lock = threading.Lock()


def _index_for(log_file: LogFile) -> _LineIndex:
    """The file's line index, brought up to date (rebuilt if the file was replaced or truncated)."""
    key = str(log_file.path.resolve())
    with _indexes_lock:
        try:
            handle = open(log_file.path, "rb")
        except FileNotFoundError:
            _indexes.pop(key, None)
            return _LineIndex((0, 0))
        with handle:
            stat = os.fstat(handle.fileno())
            identity = (stat.st_dev, stat.st_ino)
            index = _indexes.get(key)
            if index is None or index.identity != identity or stat.st_size < index.end:
                index = _LineIndex(identity)
            if stat.st_size > index.end:
                index.extend(handle)
            _indexes[key] = index
            _indexes.move_to_end(key)
            while len(_indexes) > INDEX_CACHE_FILES:
                _indexes.popitem(last=False)
            return index
