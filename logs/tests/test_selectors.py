"""Pages and summaries of log files: the same answers as parsing everything, from any page."""

from __future__ import annotations

import os

import pytest

from logs.files import LogFile
from logs.parsing import LineParser
from logs.selectors import log_entries, log_page, log_summary
from logs.viewer import LogFilter, page_of


def traceback_log(log: LogFile, blocks: int) -> list[str]:
    lines = []
    for block in range(blocks):
        lines += [
            f"[09-08 01:{block % 60:02d}:00|INFO|a.py:1:f] block {block}",
            "Traceback (most recent call last):",
            '  File "x.py", line 3, in <module>',
            "    boom()",
            f"RuntimeError: failure {block}",
            "plain after",
        ]
    log.append(lines)
    return lines


@pytest.fixture
def log(tmp_path) -> LogFile:
    return LogFile(tmp_path / "execution.log")


def test_a_page_that_starts_inside_a_traceback_still_shows_its_lines_as_errors(log):
    traceback_log(log, 10)
    page = log_page(log, log_filter=LogFilter(), number=2, size=3)  # lines 4-6: "    boom()", ...
    assert [(e.lineno, e.raw, e.level) for e in page.items] == [
        (4, "    boom()", "ERROR"), (5, "RuntimeError: failure 0", "ERROR"), (6, "plain after", "INFO"),
    ]
    assert page.items[0].timestamp == page.items[2].timestamp is not None  # untimed lines inherit


@pytest.mark.parametrize(
    "log_filter",
    [LogFilter(levels=["ERROR"]), LogFilter(search_text="FAILURE 1"), LogFilter(regex_pattern=r"block \d*7$"),
     LogFilter(source="a.py"), LogFilter(levels=["INFO"], search_text="plain")],
)
def test_filtered_pages_equal_filtering_every_parsed_entry(log, log_filter):
    lines = traceback_log(log, 40)
    parser = LineParser(year=log.default_year())
    everything = [parser.parse(line, lineno=n) for n, line in enumerate(lines, start=1)]
    for number in (1, 2, None):
        expected = page_of(log_filter.apply(everything), number=number, size=7)
        page = log_page(log, log_filter=log_filter, number=number, size=7)
        assert (page.number, page.total) == (expected.number, expected.total)
        assert [(e.lineno, e.raw, e.level, e.timestamp) for e in page.items] == [
            (e.lineno, e.raw, e.level, e.timestamp) for e in expected.items
        ]


def test_summary_follows_appends_and_a_replaced_file(log):
    traceback_log(log, 2)
    assert log_summary(log).levels == {"DEBUG": 0, "INFO": 4, "WARNING": 0, "ERROR": 8, "CRITICAL": 0}
    log.append(["WARNING: late", "[09-08 02:00:00|CRITICAL|a.py:1:f] unsafe prompt"])
    summary = log_summary(log)
    assert (summary.lines, summary.levels["WARNING"], summary.levels["CRITICAL"]) == (14, 1, 1)
    assert (summary.first_time.minute, summary.last_time.hour) == (0, 2)
    fresh = log.path.with_suffix(".new")
    fresh.write_text("only line\n")
    os.replace(fresh, log.path)
    assert log_summary(log).lines == 1


def test_a_line_still_being_written_is_left_out_until_it_ends(log):
    log.append(["whole"])
    with open(log.path, "ab") as handle:
        handle.write(b"ERROR: half")
    assert log_summary(log).lines == 1
    assert [e.raw for e in log_entries(log, log_filter=LogFilter())] == ["whole"]
    with open(log.path, "ab") as handle:
        handle.write(b" done\n")
    assert [e.raw for e in log_entries(log, log_filter=LogFilter(levels=["ERROR"]))] == ["ERROR: half done"]


def test_a_missing_log_has_an_empty_summary_and_page(log):
    assert log_summary(log).lines == 0
    page = log_page(log, log_filter=LogFilter(), number=None, size=50)
    assert (page.items, page.total, page.number) == ([], 0, 1)
    assert list(log_entries(log, log_filter=LogFilter(levels=["ERROR"]))) == []
