"""Serve a file from disk over HTTP with byte ranges, so browsers can seek in large videos.

`file_response(request, path, ...)` answers GET and HEAD with 200, 206 (`Content-Range`), 304
(ETag / Last-Modified) or 416 (`Content-Range: bytes */size`). It knows nothing about who may
read the file: callers check access first and pass a path they resolved themselves.

It lives in `prompts` because prompt inputs are served with it and `prompts` may import no other
app of ours; `runs` (outputs) and the API use it too.

Why not Django's FileResponse: under ASGI (daphne) Django reads a synchronous file iterator into
a list before sending it, i.e. a whole 2 GB video in memory. `stream_response` gives an ASGI
request an asynchronous iterator that runs each blocking step (a read, a zip chunk) in a worker
thread and sends it at once; a WSGI request (the test client) gets the plain generator.
"""

from __future__ import annotations

import asyncio
import mimetypes
import os
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, StreamingHttpResponse
from django.utils.http import content_disposition_header, http_date, parse_http_date_safe

CHUNK_SIZE = 512 * 1024
_RANGE = re.compile(r"^\s*(\d*)\s*-\s*(\d*)\s*$")
# Types a browser may show inline; anything else (html, svg, json, zip...) is a download, so a
# file in an output folder can never run script in the app's origin.
INLINE_TYPES = ("video/", "image/jpeg", "image/png", "image/gif", "image/webp", "text/plain")
# Names of our own files that mimetypes does not know.
EXTRA_TYPES = {".log": "text/plain", ".jsonl": "application/x-ndjson"}


class RangeNotSatisfiable(Exception):
    """The Range header asks for bytes the file does not have, or is malformed."""


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """The (start, end) inclusive byte span `header` asks for, or None to send the whole file.

    Only single `bytes=` ranges are honoured; several ranges or another unit are answered with
    the whole file, which RFC 9110 allows. Malformed or unsatisfiable ranges raise.
    """
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    match = _RANGE.match(spec)
    if not match or match.groups() == ("", ""):
        raise RangeNotSatisfiable(header)
    first, last = match.groups()
    if first == "":  # "-N": the last N bytes
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable(header)
        return max(0, size - suffix), size - 1
    start = int(first)
    end = size - 1 if last == "" else min(int(last), size - 1)
    if start >= size or (last != "" and int(last) < start):
        raise RangeNotSatisfiable(header)
    return start, end


def _content_type(path: Path) -> str:
    if path.suffix.lower() in EXTRA_TYPES:
        guessed, encoding = EXTRA_TYPES[path.suffix.lower()], None
    else:
        guessed, encoding = mimetypes.guess_type(path.name)
    if encoding or not guessed:
        return "application/octet-stream"
    if guessed.startswith("text/"):
        return "text/plain; charset=utf-8" if guessed == "text/plain" else guessed
    return guessed


def _etag(stat: os.stat_result) -> str:
    return f'"{stat.st_size:x}-{stat.st_mtime_ns:x}"'


def _not_modified(request: HttpRequest, etag: str, mtime: float) -> bool:
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        return etag in [tag.strip() for tag in if_none_match.split(",")] or if_none_match.strip() == "*"
    since = parse_http_date_safe(request.headers.get("If-Modified-Since", ""))
    return since is not None and int(mtime) <= since


def _range_applies(request: HttpRequest, etag: str, mtime: float) -> bool:
    """If-Range: a range is only valid against the same version of the file."""
    if_range = request.headers.get("If-Range")
    if not if_range:
        return True
    if if_range.startswith('"') or if_range.startswith("W/"):
        return if_range == etag
    since = parse_http_date_safe(if_range)
    return since is not None and int(mtime) <= since


def _sync_chunks(path: Path, start: int, length: int) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        handle.seek(start)
        while length > 0:
            data = handle.read(min(CHUNK_SIZE, length))
            if not data:
                return
            length -= len(data)
            yield data


def file_response(
    request: HttpRequest,
    path: Path,
    *,
    download_name: str | None = None,
    as_attachment: bool = False,
    content_type: str | None = None,
) -> HttpResponse:
    """Answer a GET/HEAD for `path` (which must exist) with Range, ETag and a safe disposition."""
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    stat = path.stat()
    size = stat.st_size
    etag = _etag(stat)
    content_type = content_type or _content_type(path)
    common = {
        "Accept-Ranges": "bytes",
        "ETag": etag,
        "Last-Modified": http_date(stat.st_mtime),
        "Cache-Control": "private, max-age=0, must-revalidate",
    }
    if _not_modified(request, etag, stat.st_mtime):
        response = HttpResponse(status=304)
        for key, value in common.items():
            response[key] = value
        return response

    span = None
    range_header = request.headers.get("Range")
    if range_header and _range_applies(request, etag, stat.st_mtime):
        try:
            span = parse_range(range_header, size)
        except RangeNotSatisfiable:
            response = HttpResponse(status=416)
            response["Content-Range"] = f"bytes */{size}"
            for key, value in common.items():
                response[key] = value
            return response

    start, end = span if span else (0, size - 1)
    length = max(0, end - start + 1)
    if request.method == "HEAD" or length == 0:
        response = HttpResponse(status=206 if span else 200)
    else:
        response = stream_response(request, _sync_chunks(path, start, length), status=206 if span else 200)
    response["Content-Type"] = content_type
    response["Content-Length"] = str(length)
    if span:
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    for key, value in common.items():
        response[key] = value
    inline = not as_attachment and content_type.startswith(INLINE_TYPES)
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=not inline, filename=download_name or path.name
    )
    return response


async def _in_thread(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    # Each step of a blocking generator (file reads, zip compression) runs off the event loop.
    sentinel = object()
    try:
        while (chunk := await asyncio.to_thread(next, chunks, sentinel)) is not sentinel:
            yield chunk
    finally:
        close = getattr(chunks, "close", None)
        if close:
            close()


def stream_response(request: HttpRequest, chunks: Iterator[bytes], **kwargs) -> StreamingHttpResponse:
    """A streaming response of a blocking generator that daphne sends as it is produced."""
    body = _in_thread(chunks) if isinstance(request, ASGIRequest) else chunks
    return StreamingHttpResponse(body, **kwargs)
