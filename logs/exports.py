"""Write log entries out as JSON, plain text, CSV or a standalone HTML page, and mark up one line.

Every exporter is a generator of text chunks, so a view can stream a log of any size without
holding it; `export()` joins the chunks for callers that want one string. Log lines are data
from a container that ran a user's prompt: HTML output escapes every line (a line may hold
`<script>`), and CSV cells that a spreadsheet would run as a formula (`=`, `+`, `-`, `@` first)
are prefixed with `'` (the OWASP rule); the JSON and text exports keep the lines byte for byte.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from html import escape

from logs.batching import batched
from logs.errors import LogQueryError
from logs.parsing import LogEntry

CSV_COLUMNS = ("lineno", "timestamp", "level", "source", "source_line", "function", "message")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_CHUNK_LINES = 500  # entries per yielded chunk: few, large writes to the response


@dataclass(frozen=True)
class ExportFormat:
    name: str
    content_type: str
    extension: str
    write: Callable[[Iterable[LogEntry], str], Iterator[str]]


def iter_json(entries: Iterable[LogEntry], title: str = "") -> Iterator[str]:
    """A JSON array of entry objects (`LogEntry.to_dict()`), one per line."""
    yield "["
    separator = "\n"
    for chunk in _chunks(entries):
        parts = []
        for entry in chunk:
            parts.append(separator + json.dumps(entry.to_dict(), ensure_ascii=False))
            separator = ",\n"
        yield "".join(parts)
    yield "\n]\n"


def iter_text(entries: Iterable[LogEntry], title: str = "") -> Iterator[str]:
    """The lines as they were logged, one per line."""
    for chunk in _chunks(entries):
        yield "".join(entry.raw + "\n" for entry in chunk)


def iter_csv(entries: Iterable[LogEntry], title: str = "") -> Iterator[str]:
    """A header row, then one row per entry with the CSV_COLUMNS."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for chunk in _chunks(entries):
        for entry in chunk:
            writer.writerow(
                [
                    entry.lineno if entry.lineno is not None else "",
                    entry.timestamp.isoformat() if entry.timestamp else "",
                    entry.level,
                    _cell(entry.source),
                    entry.source_line if entry.source_line is not None else "",
                    _cell(entry.function),
                    _cell(entry.message),
                ]
            )
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()


def iter_html(entries: Iterable[LogEntry], title: str = "Log") -> Iterator[str]:
    """A standalone page (inline style, no scripts) with one escaped, level-coloured line per entry."""
    yield _HTML_HEAD.format(title=escape(title))
    for chunk in _chunks(entries):
        yield "".join(line_html(entry) + "\n" for entry in chunk)
    yield "</pre></body></html>\n"


FORMATS = {
    "json": ExportFormat("json", "application/json", "json", iter_json),
    "text": ExportFormat("text", "text/plain; charset=utf-8", "log", iter_text),
    "csv": ExportFormat("csv", "text/csv; charset=utf-8", "csv", iter_csv),
    "html": ExportFormat("html", "text/html; charset=utf-8", "html", iter_html),
}


def export_format(name: str) -> ExportFormat:
    try:
        return FORMATS[name]
    except KeyError:
        raise LogQueryError(
            f"Unknown export format {name!r}: choose from {', '.join(FORMATS)}.", field="export"
        ) from None


def iter_export(entries: Iterable[LogEntry], fmt: str, *, title: str = "Log") -> Iterator[str]:
    return export_format(fmt).write(entries, title)


def export(entries: Iterable[LogEntry], fmt: str, *, title: str = "Log") -> str:
    """The whole export as one string (for small logs and tests; views stream `iter_export`)."""
    return "".join(iter_export(entries, fmt, title=title))


def mark_html(text: str, spans: Iterable[tuple[int, int]] = ()) -> str:
    """`text` escaped for HTML, with each (start, end) span wrapped in <mark>."""
    out = []
    position = 0
    for start, end in spans:
        out.append(escape(text[position:start]))
        out.append("<mark>" + escape(text[start:end]) + "</mark>")
        position = end
    out.append(escape(text[position:]))
    return "".join(out)


def line_html(entry: LogEntry, spans: Iterable[tuple[int, int]] = ()) -> str:
    """One entry as a `<span class="log-line lvl-LEVEL">` holding its escaped, marked-up text."""
    return f'<span class="log-line lvl-{entry.level}">{mark_html(entry.raw, spans)}</span>'


def _cell(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


def _chunks(entries: Iterable[LogEntry]) -> Iterator[list[LogEntry]]:
    return batched(entries, _CHUNK_LINES)


_HTML_HEAD = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="color-scheme" content="light dark">
<title>{title}</title>
<style>
body {{ margin: 1rem; font: 13px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }}
pre {{ white-space: pre-wrap; word-break: break-all; }}
.log-line {{ display: block; }}
.lvl-DEBUG {{ opacity: .7; }} .lvl-WARNING {{ color: #b35c00; }}
.lvl-ERROR, .lvl-CRITICAL {{ color: #c92a2a; }} .lvl-CRITICAL {{ font-weight: bold; }}
mark {{ background: #ffe066; color: #000; }}
</style></head><body><h1>{title}</h1><pre>
"""
