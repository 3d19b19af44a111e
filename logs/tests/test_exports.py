"""Exports as JSON, text, CSV and HTML: faithful where they can be, safe where they must be."""

from __future__ import annotations

import csv
import io
import json

import pytest

from logs.errors import LogQueryError
from logs.exports import CSV_COLUMNS, FORMATS, export, iter_export, line_html, mark_html
from logs.parsing import LineParser

LINES = [
    "[09-08 01:15:45|INFO|cosmos_transfer1/diffusion/inference/transfer.py:187:parse_arguments] final args: {}",
    "[09-08 01:15:46|ERROR|a.py:1:f] prompt was <script>alert('x')</script> & more",
    '=HYPERLINK("http://evil.example","click")',
    "ünïcödé, \"quoted\", with commas",
]


@pytest.fixture
def entries():
    parser = LineParser(year=2025)
    return [parser.parse(line, lineno=n, offset=n * 100) for n, line in enumerate(LINES, start=1)]


def test_json_export_round_trips_every_field(entries):
    data = json.loads(export(entries, "json"))
    assert [item["raw"] for item in data] == LINES
    assert data[0] == {
        "message": "final args: {}", "level": "INFO", "timestamp": "2025-09-08T01:15:45",
        "source": "cosmos_transfer1/diffusion/inference/transfer.py", "source_line": 187,
        "function": "parse_arguments", "raw": LINES[0], "lineno": 1, "offset": 100, "progress": False,
    }


def test_json_export_of_nothing_is_an_empty_array():
    assert json.loads(export([], "json")) == []


def test_text_export_is_the_lines_as_logged(entries):
    assert export(entries, "text") == "\n".join(LINES) + "\n"


def test_csv_export_has_columns_and_defuses_formulas(entries):
    rows = list(csv.reader(io.StringIO(export(entries, "csv"))))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert rows[1][:4] == ["1", "2025-09-08T01:15:45", "INFO", "cosmos_transfer1/diffusion/inference/transfer.py"]
    assert rows[3][-1] == "'" + LINES[2]  # a spreadsheet must not run it
    assert rows[4][-1] == LINES[3]  # commas, quotes and non-ASCII survive


def test_csv_export_of_nothing_is_the_header():
    assert export([], "csv").strip() == ",".join(CSV_COLUMNS)


def test_html_export_escapes_markup(entries):
    page = export(entries, "html", title="Log of <b>rs_1</b>")
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; more" in page
    assert "<title>Log of &lt;b&gt;rs_1&lt;/b&gt;</title>" in page
    assert '<span class="log-line lvl-ERROR">' in page


def test_exports_stream_in_chunks_for_big_logs():
    parser = LineParser()
    many = (parser.parse(f"line {i}") for i in range(2000))
    chunks = list(iter_export(many, "text"))
    assert len(chunks) > 1
    assert "".join(chunks).count("\n") == 2000


def test_mark_html_wraps_spans_and_escapes_around_them():
    assert mark_html("<a> error & ERROR", [(4, 9), (12, 17)]) == "&lt;a&gt; <mark>error</mark> &amp; <mark>ERROR</mark>"


def test_line_html_carries_the_level(entries):
    assert line_html(entries[1], [(0, 1)]).startswith('<span class="log-line lvl-ERROR"><mark>[</mark>')


def test_unknown_format_names_the_choices(entries):
    with pytest.raises(LogQueryError, match="choose from json, text, csv, html"):
        export(entries, "pdf")
    assert set(FORMATS) == {"json", "text", "csv", "html"}
