"""LogFile: appends, offsets that never cut a line, tail, earlier lines, and the line index."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest

from logs import files
from logs.errors import LogQueryError
from logs.files import INDEX_STRIDE, LogFile
from logs.stream import LineSplitter


@pytest.fixture
def log(tmp_path) -> LogFile:
    return LogFile(tmp_path / "runs" / "rs_1" / "execution.log")


def read_all(log: LogFile, offset: int = 0, max_bytes: int = 64) -> tuple[list[str], int]:
    lines = []
    while True:
        batch, end = log.read_from(offset, max_bytes)
        if not batch:
            return lines, offset
        lines.extend(batch)
        offset = end


def test_missing_file_reads_as_empty(log):
    assert (log.size(), log.line_count(), log.end(), log.tail(5)) == (0, 0, 0, [])
    assert log.read_from(0) == ([], 0)
    assert list(log.iter_lines()) == []


def test_append_creates_the_file_terminates_lines_and_returns_the_end(log):
    end = log.append(["one", "two\n", "ünï"])
    assert log.path.read_bytes() == "one\ntwo\nünï\n".encode()
    assert end == log.size() == len("one\ntwo\nünï\n".encode())
    assert log.append([]) == end


def test_read_from_gives_whole_lines_and_the_next_offset(log):
    log.append(["alpha", "beta", "gamma"])
    assert log.read_from(0) == (["alpha", "beta", "gamma"], 17)
    assert log.read_from(6) == (["beta", "gamma"], 17)
    assert log.read_from(17) == ([], 17)


def test_read_from_never_returns_a_partial_last_line(log):
    log.append(["done"])
    with open(log.path, "ab") as handle:
        handle.write(b"half a li")
    assert log.read_from(0) == (["done"], 5)
    assert log.read_from(5) == ([], 5)
    with open(log.path, "ab") as handle:
        handle.write(b"ne\n")
    assert log.read_from(5) == (["half a line"], 17)
    assert log.line_count() == 2


def test_small_reads_walk_the_file_without_loss(log):
    lines = [f"line {i} " + "x" * (i % 37) for i in range(300)]
    log.append(lines)
    assert read_all(log, max_bytes=50) == (lines, log.size())


def test_read_from_stops_at_max_lines(log):
    log.append(["a", "bb", "ccc", "dddd"])
    assert log.read_from(0, max_lines=2) == (["a", "bb"], 5)
    assert log.read_from(5, max_lines=2) == (["ccc", "dddd"], 14)
    assert log.read_from(5, max_lines=9) == (["ccc", "dddd"], 14)


def test_a_line_longer_than_max_bytes_still_comes_whole(log):
    log.append(["short", "y" * 5000, "after"])
    batch, end = log.read_from(6, max_bytes=100)
    assert batch == ["y" * 5000]
    assert log.read_from(end, max_bytes=100)[0] == ["after"]


def test_crlf_and_bad_utf8_are_read_safely(log):
    log.path.parent.mkdir(parents=True)
    log.path.write_bytes(b"windows\r\nbad \xff byte\n")
    assert log.read_from(0) == (["windows", "bad \ufffd byte"], 20)
    assert [text for _offset, text in log.iter_lines()] == ["windows", "bad \ufffd byte"]


def test_bad_offsets_are_refused(log):
    with pytest.raises(LogQueryError, match="0 or more"):
        log.read_from(-1)
    log.append(["abc", "def"])
    with pytest.raises(LogQueryError, match="not the start of a line"):
        log.read_before(2, 1)
    with pytest.raises(LogQueryError, match="past the end"):
        log.read_before(100, 1)


def test_tail_and_read_before_page_backwards(log):
    lines = [f"l{i}" for i in range(1000)]
    log.append(lines)
    assert log.tail(3) == ["l997", "l998", "l999"]
    assert log.tail(5000) == lines
    earlier, start = log.read_before(log.offset_of_line(500), 10)
    assert earlier == lines[490:500]
    assert start == log.offset_of_line(490)
    assert log.read_before(start, 1000) == (lines[:490], 0)
    assert log.read_before(0, 10) == ([], 0)


def test_tail_ignores_a_line_still_being_written(log):
    log.append(["a", "b"])
    with open(log.path, "ab") as handle:
        handle.write(b"partial")
    assert log.tail(1) == ["b"]
    assert log.end() == 4


def test_line_index_finds_any_line_of_a_big_file(log):
    lines = [f"line {i:06d} " + "z" * (i % 13) for i in range(3 * INDEX_STRIDE + 17)]
    log.append(lines)
    assert log.line_count() == len(lines)
    for number in (0, 1, INDEX_STRIDE - 1, INDEX_STRIDE, 2 * INDEX_STRIDE + 5, len(lines) - 1):
        offset = log.offset_of_line(number)
        assert log.read_from(offset, 10)[0][0] == lines[number]
    assert log.offset_of_line(len(lines)) == log.size()
    with pytest.raises(LogQueryError, match="outside this log"):
        log.offset_of_line(len(lines) + 1)


def test_line_index_grows_with_appends_and_restarts_when_the_file_is_replaced(log):
    log.append([f"a{i}" for i in range(INDEX_STRIDE + 3)])
    assert log.line_count() == INDEX_STRIDE + 3
    log.append([f"b{i}" for i in range(INDEX_STRIDE)])
    assert log.line_count() == 2 * INDEX_STRIDE + 3
    assert log.read_from(log.offset_of_line(2 * INDEX_STRIDE), 5)[0][0] == f"b{INDEX_STRIDE - 3}"
    replacement = log.path.with_suffix(".new")
    replacement.write_text("fresh\n")
    os.replace(replacement, log.path)
    assert log.line_count() == 1
    assert log.tail(5) == ["fresh"]


def test_entries_carry_line_numbers_offsets_and_the_file_year(log):
    log.append(["[09-08 01:15:45|INFO|a.py:1:f] one", "two"])
    first, second = log.entries()
    assert (first.lineno, first.offset, second.lineno, second.offset) == (1, 0, 2, 35)
    assert first.timestamp.year == log.default_year()
    assert [e.lineno for e in log.entries(35, first_lineno=2)] == [2]


def test_a_reader_racing_a_writer_in_another_process_sees_every_line_once_in_order(log):
    """The writer appends batches as fast as it can; the reader follows by offset meanwhile."""
    count = 20_000
    log.append(["start"])
    writer = subprocess.Popen(
        [sys.executable, "-c",
         "import sys; from logs.files import LogFile; log = LogFile(sys.argv[1])\n"
         "for b in range(0, int(sys.argv[2]), 100): log.append([f'line {i} ' + 'p' * (i % 50) for i in range(b, b + 100)])",
         str(log.path), str(count)],
        cwd=os.getcwd(),
    )
    seen: list[str] = []
    offset = 0
    while True:
        batch, offset = log.read_from(offset, 4096)
        seen.extend(batch)
        if not batch and writer.poll() is not None:
            batch, offset = log.read_from(offset, 1 << 20)
            seen.extend(batch)
            if not batch:
                break
    assert writer.returncode == 0
    assert seen == ["start"] + [f"line {i} " + "p" * (i % 50) for i in range(count)]


def test_concurrent_appenders_never_interleave_within_a_batch(log):
    def write(tag: str) -> None:
        for batch in range(50):
            log.append([f"{tag} {batch} {i}" for i in range(20)])

    threads = [threading.Thread(target=write, args=(tag,)) for tag in "abcd"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = log.tail(10_000)
    assert len(lines) == 4 * 50 * 20
    for start in range(0, len(lines), 20):
        block = lines[start : start + 20]
        tag, batch, _ = block[0].split()
        assert block == [f"{tag} {batch} {i}" for i in range(20)]


def test_index_cache_is_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "INDEX_CACHE_FILES", 3)
    for i in range(6):
        log = LogFile(tmp_path / f"{i}.log")
        log.append(["x"])
        assert log.line_count() == 1
    assert len(files._indexes) <= 3


# ---- LineSplitter: the byte stream of a container into lines ---------------------------------


def test_splitter_handles_crlf_lone_cr_and_characters_split_across_chunks():
    splitter = LineSplitter()
    out = []
    for chunk in (b"a\r", b"\nb", "é".encode()[:1], "é".encode()[1:] + b"\r  1%|\r  2%|\nlast"):
        out += splitter.feed(chunk)
    out += splitter.close()
    assert out == ["a", "bé", "  1%|", "  2%|", "last"]


def test_splitter_keeps_empty_lines_and_cuts_endless_ones():
    splitter = LineSplitter(max_line_chars=10)
    assert splitter.feed(b"x\n\ny\n") == ["x", "", "y"]
    assert splitter.feed(b"0123456789abc") == ["0123456789abc"]
    assert splitter.close() == []
