"""LogFilter (levels, text, regex, time, source, highlight spans) and LogViewer (buffer, pages, stats)."""

from __future__ import annotations

import random
import threading
from datetime import datetime, timedelta, timezone

import pytest
import regex

from logs.errors import LogQueryError
from logs.parsing import LogEntry
from logs.viewer import REGEX_MAX_LENGTH, LogFilter, LogViewer, page_of

T0 = datetime(2025, 9, 8, 1, 0, 0)


def entry(message: str, level: str = "INFO", minutes: int | None = 0, source: str = "") -> LogEntry:
    when = T0 + timedelta(minutes=minutes) if minutes is not None else None
    return LogEntry(message=message, level=level, timestamp=when, source=source)


ENTRIES = [
    entry("Loading ctrl model", minutes=0, source="cosmos_transfer1/diffusion/inference/world_generation_pipeline.py"),
    entry("careful: low memory", "WARNING", minutes=1),
    entry("CUDA out of memory", "ERROR", minutes=2, source="cosmos_transfer1/diffusion/model/model_ctrl.py"),
    entry("error42 in step", "ERROR", minutes=3),
    entry("no time here", minutes=None),
]


def messages(entries) -> list[str]:
    return [e.message for e in entries]


def test_empty_filter_keeps_everything():
    assert not LogFilter().active
    assert list(LogFilter().apply(ENTRIES)) == ENTRIES


def test_levels_filter_accepts_any_spelling():
    assert messages(LogFilter(levels=["error", "warn"]).apply(ENTRIES)) == [
        "careful: low memory", "CUDA out of memory", "error42 in step",
    ]


def test_text_search_is_case_insensitive():
    assert messages(LogFilter(search_text="MEMORY").apply(ENTRIES)) == ["careful: low memory", "CUDA out of memory"]


def test_regex_search_matches_the_pattern():
    assert messages(LogFilter(regex_pattern=r"\berror\d+\b").apply(ENTRIES)) == ["error42 in step"]


def test_time_range_is_inclusive_and_drops_untimed_entries():
    chosen = LogFilter(start_time=T0 + timedelta(minutes=1), end_time=T0 + timedelta(minutes=2)).apply(ENTRIES)
    assert messages(chosen) == ["careful: low memory", "CUDA out of memory"]


def test_aware_time_bounds_are_compared_in_utc():
    paris = timezone(timedelta(hours=2))
    start = (T0 + timedelta(minutes=3)).replace(tzinfo=timezone.utc).astimezone(paris)
    assert messages(LogFilter(start_time=start).apply(ENTRIES)) == ["error42 in step"]


def test_source_filter_matches_part_of_the_path():
    assert messages(LogFilter(source="model_CTRL").apply(ENTRIES)) == ["CUDA out of memory"]


def test_all_given_fields_must_match():
    assert messages(LogFilter(levels=["ERROR"], search_text="memory").apply(ENTRIES)) == ["CUDA out of memory"]


def test_invalid_regex_is_a_clear_error():
    with pytest.raises(LogQueryError) as raised:
        LogFilter(regex_pattern="error(")
    assert raised.value.field == "regex_pattern"
    assert raised.value.message.startswith("Invalid regular expression:")


def test_overlong_regex_is_refused_with_the_limit():
    with pytest.raises(LogQueryError, match=f"at most {REGEX_MAX_LENGTH}"):
        LogFilter(regex_pattern="a" * (REGEX_MAX_LENGTH + 1))


def test_catastrophic_regex_is_stopped_with_advice_not_a_hang():
    log = [LogEntry(message="a" * 40 + "!")]
    with pytest.raises(LogQueryError, match="takes too long") as raised:
        list(LogFilter(regex_pattern=r"^(a|aa)+$").apply(log))
    assert raised.value.field == "regex_pattern"


def test_unknown_level_names_the_choices():
    with pytest.raises(LogQueryError, match="choose from DEBUG, INFO, WARNING, ERROR, CRITICAL"):
        LogFilter(levels=["LOUD"])


def test_reversed_time_range_is_refused():
    with pytest.raises(LogQueryError, match="after its end"):
        LogFilter(start_time=T0, end_time=T0 - timedelta(seconds=1))


def test_spans_cover_text_and_regex_matches_merged():
    log_filter = LogFilter(search_text="error")
    assert log_filter.spans("Error: an ERROR") == [(0, 5), (10, 15)]
    both = LogFilter(search_text="out of", regex_pattern=r"of mem\w+")
    assert both.spans("CUDA out of memory") == [(5, 18)]


def test_spans_skip_empty_regex_matches():
    assert LogFilter(regex_pattern=r"x*").spans("abc") == []


def test_viewer_buffer_keeps_the_newest_and_counts_levels():
    viewer = LogViewer(max_entries=3)
    viewer.add_lines(["[01-01 00:00:00|ERROR|a.py:1:f] one", "two", "three", "WARNING: four"])
    assert messages(viewer.entries()) == ["two", "three", "WARNING: four"]
    assert viewer.stats() == {"DEBUG": 0, "INFO": 2, "WARNING": 1, "ERROR": 0, "CRITICAL": 0}
    assert [e.lineno for e in viewer.entries()] == [2, 3, 4]


def test_viewer_add_entry_like_the_seed():
    viewer = LogViewer()
    viewer.add_entry(LogEntry(timestamp=T0, level="INFO", message="Custom log message", source="inference.py", source_line=42))
    assert viewer.entries()[0].lineno == 1
    assert len(viewer) == 1


def test_stream_callback_takes_lines_from_many_threads():
    viewer = LogViewer(max_entries=10_000)
    feed = viewer.stream_callback()

    def worker(n: int) -> None:
        for i in range(500):
            feed(f"thread {n} line {i}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    feed(["batch a", "batch b"])
    feed("text a\ntext b")
    assert len(viewer) == 2004
    assert sorted(e.lineno for e in viewer.entries()) == list(range(1, 2005))
    assert viewer.stats()["INFO"] == 2004


def test_viewer_filter_search_and_page():
    viewer = LogViewer()
    viewer.add_lines([f"line {i}" + (" ERROR" if i % 10 == 0 else "") for i in range(1, 101)])
    viewer.filter = LogFilter(levels=["ERROR"])
    assert len(viewer.filtered()) == 10
    hits = viewer.search("line 5")
    assert [hit.entry.message for hit in hits] == ["line 5", "line 50 ERROR"] + [f"line {i}" for i in range(51, 60)]
    assert hits[0].spans == [(0, 6)]
    assert [hit.entry.message for hit in viewer.search(r"line 9\d ERROR", use_regex=True)] == ["line 90 ERROR"]
    page = viewer.page(2, 4)
    assert (page.number, page.pages, page.total) == (2, 3, 10)
    assert messages(page.items) == [f"line {i} ERROR" for i in (50, 60, 70, 80)]


def test_viewer_exports_what_its_filter_keeps_or_everything():
    viewer = LogViewer()
    viewer.add_lines(["ok", "ERROR: <bad>"])
    viewer.filter = LogFilter(levels=["ERROR"])
    assert viewer.export("text") == "ERROR: <bad>\n"
    assert viewer.export("text", filtered=False) == "ok\nERROR: <bad>\n"
    assert "&lt;bad&gt;" in viewer.export("html", title="Run log")


@pytest.mark.parametrize(
    ("number", "expected_number", "expected_items"),
    [(1, 1, [0, 1, 2, 3]), (3, 3, [8, 9]), (None, 3, [8, 9]), (99, 3, [8, 9]), (0, 1, [0, 1, 2, 3])],
)
def test_page_of_numbers_from_one_and_falls_back_to_the_last(number, expected_number, expected_items):
    page = page_of(iter(range(10)), number=number, size=4)
    assert (page.number, page.items, page.total, page.pages) == (expected_number, expected_items, 10, 3)


def test_page_of_nothing_is_one_empty_page():
    page = page_of(iter(()), number=None, size=50)
    assert (page.number, page.items, page.pages, page.has_next, page.has_previous) == (1, [], 1, False, False)


def test_page_size_must_be_positive():
    with pytest.raises(LogQueryError, match="at least 1"):
        page_of([], number=1, size=0)


JOINED_SAFE = [r"ab", r"^a", r"b$", r"^$", r"\s+x", r"a.*b", r"(?s)a.*b", r"\bab\b", r"x*", r"[^a]+$", r"a\s*$",
               r"\W", r"(?i:A)B", r"(?P<n>a)(?P=n)", r"b{2,}", r"(a|ab)(c|bcd)?x", r"\n", r"! ?$"]
LINE_BY_LINE = [r"(?<=a)b", r"(?<!\s)ab", r"ab(?!\s)", r"\Aab", r"ab\Z", r"(?>\s*)$", r"a*+b", r"(?-m)^a", r"a(?=\s)"]


@pytest.mark.parametrize("pattern", JOINED_SAFE + LINE_BY_LINE)
def test_searching_lines_together_finds_exactly_the_lines_a_search_of_each_finds(pattern):
    rng = random.Random(pattern)
    lines = ["".join(rng.choice("ab x\t!") for _ in range(rng.randint(0, 12))) for _ in range(600)]
    log_filter = LogFilter(regex_pattern=pattern)
    assert (log_filter._joined_regex is not None) == (pattern in JOINED_SAFE)
    expected = [i for i, line in enumerate(lines) if regex.search(pattern, line, regex.IGNORECASE)]
    assert log_filter.select_lines([("INFO", None, line) for line in lines]) == expected
