"""Reusable log pages: the filterable viewer of one log file, and earlier lines for the live panel.

These are building blocks, not routed views: logs/ knows files, not runs or users. ACCESS
CONTROL IS THE CALLER'S JOB. A caller (the runs app's `/logs/<rs_id>/`) first checks that the
user may see the run, then returns `log_viewer_response(request, log_path=..., ...)`.

    def run_log(request, rs_id):
        run = run_for_user(user=request.user, run_id=rs_id)      # NotFound for another's run
        return log_viewer_response(request, log_path=run.log_path, title=f"Log of {rs_id}",
                                   back_url=reverse("runs:detail", args=[rs_id]))
"""

from __future__ import annotations

import os
import re

from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils.http import urlencode
from django.utils.safestring import mark_safe

from logs.errors import LogQueryError
from logs.exports import export_format, iter_export, line_html
from logs.files import READ_BYTES, LogFile
from logs.forms import DEFAULT_PAGE_SIZE, LogQueryForm
from logs.selectors import log_entries, log_page, log_summary
from logs.viewer import LogFilter, Page

MAX_EARLIER_LINES = 5000


def log_viewer_response(
    request: HttpRequest,
    *,
    log_path: str | os.PathLike,
    title: str,
    back_url: str,
    template: str = "logs/viewer.html",
    live: bool = False,
) -> HttpResponse:
    """The log viewer page for `log_path` (filters, search with highlight, time range, pages), or
    with `?export=json|text|csv|html` the filtered log as a download. Bad query input renders
    the page with the error beside its field (status 400) and filters nothing. While the log is
    `live` (still written), the last page, with its filters, refreshes itself."""
    log_file = LogFile(log_path)
    params = request.GET.copy()
    params.setdefault("size", str(DEFAULT_PAGE_SIZE))  # so the select shows the size in use
    form = LogQueryForm(params)
    valid = form.is_valid()
    data = form.cleaned_data if valid else {}
    log_filter = data.get("filter", LogFilter())
    if valid and data.get("export"):
        return _export_response(log_file, log_filter, data["export"], title)
    size = data.get("size") or DEFAULT_PAGE_SIZE
    try:
        page, lines = _page_lines(log_file, log_filter, data.get("page"), size)
    except LogQueryError as error:  # a regular expression too slow for this log
        form.add_error("q", error.message)
        valid, log_filter = False, LogFilter()
        page, lines = _page_lines(log_file, log_filter, None, size)
    query = _query_without(request, "page", "export")
    summary = log_summary(log_file)
    context = {
        "title": title,
        "back_url": back_url,
        "form": form,
        "page": page,
        "lines": lines,
        "summary": summary,
        "level_choices": [(choice, summary.levels[choice.data["value"]]) for choice in form["level"]],
        "shown_from": page.first_index + 1,
        "shown_to": page.first_index + len(lines),
        "filtered": log_filter.active,
        "query": query,
        "page_links": _page_links(page, query),
        "export_links": [(name, f"?{_join(query, f'export={name}')}") for name in ("json", "text", "csv", "html")],
        "log_exists": log_file.path.exists(),
        # Only the last page follows the log: a page the user picked stays as it is.
        "refresh": live and valid and "page" not in request.GET,
        # Errors of inputs the form shows no field for (they come from links, not from typing).
        "other_errors": [f"{form[name].label}: {error}" for name in ("export", "page", "size") for error in form[name].errors],
    }
    return render(request, template, context, status=200 if valid else 400)


def log_lines_response(request: HttpRequest, *, log_path: str | os.PathLike) -> JsonResponse:
    """JSON lines of a log for the live panel. `?before=N&limit=M`: up to M lines ending at
    offset N ("show earlier"); `?offset=N`: the lines from offset N on (about 256 KB).
    Answers `{"lines", "start", "end"}`, or `{"error"}` with status 400. Access control is the
    caller's job, as for `log_viewer_response`."""
    log_file = LogFile(log_path)
    try:
        if "before" in request.GET:
            end = _whole(request.GET, "before")
            limit = min(_whole(request.GET, "limit", default=500) or 1, MAX_EARLIER_LINES)
            lines, start = log_file.read_before(end, limit)
        else:
            start = _whole(request.GET, "offset", default=0)
            lines, end = log_file.read_from(start, READ_BYTES)
    except LogQueryError as error:
        return JsonResponse({"error": error.message}, status=400)
    return JsonResponse({"lines": lines, "start": start, "end": end})


def _page_lines(log_file: LogFile, log_filter: LogFilter, number: int | None, size: int) -> tuple[Page, list[dict]]:
    page = log_page(log_file, log_filter=log_filter, number=number, size=size)
    # line_html escapes the line; only its <mark> and <span> tags are markup.
    lines = [{"entry": entry, "html": mark_safe(line_html(entry, log_filter.spans(entry.raw)))} for entry in page.items]
    return page, lines


def _export_response(log_file: LogFile, log_filter: LogFilter, fmt: str, title: str) -> StreamingHttpResponse:
    export = export_format(fmt)
    response = StreamingHttpResponse(
        iter_export(log_entries(log_file, log_filter=log_filter), fmt, title=title), content_type=export.content_type
    )
    filename = re.sub(r"[^A-Za-z0-9._-]+", "-", title).strip("-") or "log"
    response["Content-Disposition"] = f'attachment; filename="{filename}.{export.extension}"'
    return response


def _whole(params, name: str, default: int | None = None) -> int:
    value = params.get(name)
    if value is None and default is not None:
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = -1
    if number < 0:
        raise LogQueryError(f"{name} must be a whole number, 0 or more.", field=name)
    return number


def _query_without(request: HttpRequest, *names: str) -> str:
    params = request.GET.copy()
    for name in names:
        params.pop(name, None)
    return params.urlencode()


def _join(query: str, extra: str) -> str:
    return f"{query}&{extra}" if query else extra


def _page_links(page: Page, query: str) -> list[dict]:
    """First, previous, a window around the current page, next, last."""
    numbers = sorted({1, page.pages, *range(max(1, page.number - 2), min(page.pages, page.number + 2) + 1)})
    links = []
    previous = 0
    for number in numbers:
        if number - previous > 1:
            links.append({"gap": True})
        links.append({"number": number, "url": "?" + _join(query, urlencode({"page": number})), "current": number == page.number})
        previous = number
    return links
