"""Serving files with byte ranges: whole file, ranges, suffix ranges, 416, conditional requests."""

from __future__ import annotations

import asyncio
import io

import pytest
from django.core.handlers.asgi import ASGIRequest
from django.test import RequestFactory

from prompts.http_files import RangeNotSatisfiable, file_response, parse_range

DATA = bytes(range(256)) * 40  # 10,240 bytes


@pytest.fixture
def video(tmp_path):
    path = tmp_path / "output.mp4"
    path.write_bytes(DATA)
    return path


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def get(path, **headers):
    return file_response(RequestFactory().get("/f", headers=headers), path)


def test_whole_file_says_it_accepts_ranges(video):
    response = get(video)
    assert response.status_code == 200
    assert body(response) == DATA
    assert response["Accept-Ranges"] == "bytes"
    assert response["Content-Length"] == str(len(DATA))
    assert response["Content-Type"] == "video/mp4"
    assert response["Content-Disposition"].startswith("inline")


def test_range_returns_206_with_content_range(video):
    response = get(video, Range="bytes=100-199")
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 100-199/{len(DATA)}"
    assert response["Content-Length"] == "100"
    assert body(response) == DATA[100:200]


def test_open_ended_and_suffix_ranges(video):
    assert body(get(video, Range="bytes=10000-")) == DATA[10000:]
    response = get(video, Range="bytes=-40")
    assert response["Content-Range"] == f"bytes {len(DATA) - 40}-{len(DATA) - 1}/{len(DATA)}"
    assert body(response) == DATA[-40:]


def test_range_past_the_end_is_clamped(video):
    response = get(video, Range="bytes=10200-999999")
    assert response.status_code == 206
    assert body(response) == DATA[10200:]


@pytest.mark.parametrize("header", ["bytes=20000-", "bytes=50-10", "bytes=abc", "bytes=-0", "bytes=-"])
def test_bad_range_is_416_with_the_size(video, header):
    response = get(video, Range=header)
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(DATA)}"


def test_several_ranges_or_other_units_get_the_whole_file(video):
    assert get(video, Range="bytes=0-1,5-6").status_code == 200
    assert get(video, Range="items=0-1").status_code == 200


def test_if_range_with_a_stale_etag_sends_the_whole_file(video):
    response = get(video, Range="bytes=0-9", **{"If-Range": '"stale"'})
    assert response.status_code == 200
    etag = get(video)["ETag"]
    assert get(video, Range="bytes=0-9", **{"If-Range": etag}).status_code == 206


def test_matching_etag_is_304(video):
    etag = get(video)["ETag"]
    assert get(video, **{"If-None-Match": etag}).status_code == 304


def test_head_has_headers_and_no_body(video):
    response = file_response(RequestFactory().head("/f"), video)
    assert response.status_code == 200
    assert response["Content-Length"] == str(len(DATA))
    assert response.content == b""


def test_post_is_refused(video):
    assert file_response(RequestFactory().post("/f"), video).status_code == 405


@pytest.mark.parametrize(
    ("name", "content_type", "inline"),
    [
        ("execution.log", "text/plain; charset=utf-8", True),
        ("poster.jpg", "image/jpeg", True),
        ("page.html", "text/html", False),
        ("spec.json", "application/json", False),
        ("bundle.zip", "application/zip", False),
    ],
)
def test_only_safe_types_are_shown_inline(tmp_path, name, content_type, inline):
    path = tmp_path / name
    path.write_bytes(b"x")
    response = get(path)
    assert response["Content-Type"] == content_type
    assert response["Content-Disposition"].startswith("inline" if inline else "attachment")


def test_asgi_requests_stream_asynchronously(video):
    """Under daphne the body must be an async iterator (Django would buffer a sync one)."""
    scope = {"type": "http", "method": "GET", "path": "/f", "headers": [(b"range", b"bytes=5-14")],
             "query_string": b""}
    request = ASGIRequest(scope, body_file=io.BytesIO())
    response = file_response(request, video)
    assert response.is_async

    async def collect():
        return b"".join([part async for part in response])

    assert asyncio.run(collect()) == DATA[5:15]


def test_parse_range_edges():
    assert parse_range("bytes=0-0", 10) == (0, 0)
    assert parse_range("bytes=-100", 10) == (0, 9)
    with pytest.raises(RangeNotSatisfiable):
        parse_range("bytes=0-0", 0)
