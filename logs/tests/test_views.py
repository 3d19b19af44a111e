"""The reusable log viewer page, its exports, and the earlier-lines endpoint of the live panel."""

from __future__ import annotations

import csv
import io
import json
import uuid

import pytest
from django.conf import settings
from django.test import Client

from logs.files import LogFile

pytestmark = [pytest.mark.urls("logs.tests.urls"), pytest.mark.django_db]


def loguru(minute: int, level: str, message: str) -> str:
    return f"[09-08 01:{minute:02d}:00|{level}|cosmos_transfer1/inference/transfer.py:10:demo] {message}"


@pytest.fixture
def name() -> str:
    return f"rs_{uuid.uuid4().hex[:8]}"


@pytest.fixture
def log(name) -> LogFile:
    log = LogFile(settings.LOGS_DIR / f"{name}.log")
    lines = [loguru(i % 60, "INFO", f"step {i}") for i in range(1, 451)]
    lines[99] = loguru(40, "ERROR", "CUDA out of memory at step 100")
    lines[199] = loguru(41, "WARNING", "prompt was <script>alert(1)</script>")
    log.append(lines)
    return log


@pytest.fixture
def client(client, alice):
    client.force_login(alice)
    return client


def rows(response) -> list[str]:
    return [line["entry"].raw for line in response.context["lines"]]


def test_opens_on_the_last_page_with_line_numbers_and_level_counts(client, log, name):
    response = client.get(f"/log/{name}/")
    assert response.status_code == 200
    page = response.context["page"]
    assert (page.number, page.pages, page.total) == (3, 3, 450)
    assert [line["entry"].lineno for line in response.context["lines"]] == list(range(401, 451))
    assert response.context["summary"].levels == {"DEBUG": 0, "INFO": 448, "WARNING": 1, "ERROR": 1, "CRITICAL": 0}
    body = response.content.decode()
    assert 'id="L450"' in body
    assert "Page 3 of 3" in body


def test_pages_and_page_size(client, log, name):
    response = client.get(f"/log/{name}/", {"page": 2, "size": 100})
    assert [line["entry"].lineno for line in response.context["lines"]] == list(range(101, 201))
    assert client.get(f"/log/{name}/", {"page": 99}).context["page"].number == 3


def test_level_filter_keeps_only_those_levels(client, log, name):
    response = client.get(f"/log/{name}/", {"level": ["ERROR", "WARNING"]})
    assert rows(response) == [loguru(40, "ERROR", "CUDA out of memory at step 100"),
                              loguru(41, "WARNING", "prompt was <script>alert(1)</script>")]
    assert "2 of 450 lines match" in response.content.decode()


def test_text_search_is_highlighted(client, log, name):
    response = client.get(f"/log/{name}/", {"q": "out OF memory"})
    assert len(rows(response)) == 1
    assert "CUDA <mark>out of memory</mark> at step 100" in response.content.decode()


def test_regex_search_is_highlighted(client, log, name):
    response = client.get(f"/log/{name}/", {"q": r"step 4[45]\d$", "regex": "on"})
    assert [row.rsplit(" ", 1)[-1] for row in rows(response)] == [str(i) for i in range(440, 451)]
    assert "<mark>step 450</mark>" in response.content.decode()


def test_log_lines_are_escaped_on_the_page(client, log, name):
    body = client.get(f"/log/{name}/", {"level": "WARNING"}).content.decode()
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


def test_invalid_regex_shows_what_to_fix_and_filters_nothing(client, log, name):
    response = client.get(f"/log/{name}/", {"q": "step (", "regex": "on", "level": "ERROR"})
    assert response.status_code == 400
    assert "Invalid regular expression" in response.content.decode()
    assert response.context["page"].total == 450  # unfiltered, not a half-applied filter


def test_a_regex_too_slow_for_the_log_is_refused_with_advice(client, log, name):
    log.append(["a" * 40 + "!"])
    response = client.get(f"/log/{name}/", {"q": "^(a|aa)+$", "regex": "on"})
    assert response.status_code == 400
    assert "takes too long on this log" in response.content.decode()
    assert response.context["page"].total == 451


def test_bad_time_and_unknown_level_are_refused(client, log, name):
    response = client.get(f"/log/{name}/", {"since": "yesterday-ish", "level": "LOUD"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "Enter a valid date/time." in body
    assert "Select a valid choice. LOUD is not one of the available choices." in body


def test_time_range_filter(client, log, name):
    year = log.default_year()
    response = client.get(f"/log/{name}/", {"since": f"{year}-09-08T01:40:00", "until": f"{year}-09-08T01:41:00", "size": 1000})
    raws = rows(response)
    assert raws and all(raw.startswith(("[09-08 01:40", "[09-08 01:41")) for raw in raws)
    assert loguru(40, "ERROR", "CUDA out of memory at step 100") in raws


def test_reversed_time_range_is_refused(client, log, name):
    response = client.get(f"/log/{name}/", {"since": "2025-09-08T02:00", "until": "2025-09-08T01:00"})
    assert response.status_code == 400
    assert "after its end" in response.content.decode()


@pytest.mark.parametrize(
    ("fmt", "content_type", "extension"),
    [("json", "application/json", "json"), ("text", "text/plain; charset=utf-8", "log"),
     ("csv", "text/csv; charset=utf-8", "csv"), ("html", "text/html; charset=utf-8", "html")],
)
def test_export_downloads_the_filtered_lines(client, log, name, fmt, content_type, extension):
    response = client.get(f"/log/{name}/", {"level": "ERROR", "export": fmt})
    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert response["Content-Disposition"] == f'attachment; filename="Log-of-{name}.{extension}"'
    body = b"".join(response.streaming_content).decode()
    if fmt == "json":
        assert [item["message"] for item in json.loads(body)] == ["CUDA out of memory at step 100"]
    elif fmt == "csv":
        assert [row[-1] for row in csv.reader(io.StringIO(body))] == ["message", "CUDA out of memory at step 100"]
    else:
        assert "CUDA out of memory at step 100" in body
        assert "step 1]" not in body and "step 2\n" not in body


def test_export_of_the_whole_log_streams_every_line(client, log, name):
    body = b"".join(client.get(f"/log/{name}/", {"export": "text"}).streaming_content).decode()
    assert body.splitlines() == log.tail(1000)


def test_unknown_export_format_is_refused(client, log, name):
    response = client.get(f"/log/{name}/", {"export": "pdf"})
    assert response.status_code == 400
    assert "pdf is not one of the available choices" in response.content.decode()


def test_a_log_not_written_yet_says_so(client, name):
    response = client.get(f"/log/{name}/")
    assert response.status_code == 200
    assert "No log yet." in response.content.decode()


def test_page_needs_a_login(log, name):
    response = Client().get(f"/log/{name}/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_earlier_lines_end_where_asked(client, log, name):
    before = log.offset_of_line(300)
    data = client.get(f"/log/{name}/lines", {"before": before, "limit": 5}).json()
    assert data == {"lines": log.read_before(before, 5)[0], "start": log.offset_of_line(295), "end": before}
    assert data["lines"][-1].endswith("step 300")


def test_lines_from_an_offset(client, log, name):
    start = log.offset_of_line(448)
    data = client.get(f"/log/{name}/lines", {"offset": start}).json()
    assert (data["lines"], data["start"], data["end"]) == (log.tail(2), start, log.size())


@pytest.mark.parametrize("params", [{"before": "x"}, {"before": -1}, {"before": 3}, {"offset": "-2"}])
def test_bad_offsets_get_a_json_error(client, log, name, params):
    response = client.get(f"/log/{name}/lines", params)
    assert response.status_code == 400
    assert response.json()["error"]
