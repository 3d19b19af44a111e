"""The log pages in Chromium, against a real daphne: the live panel (static/logs/logpanel.js over a
LogTailConsumer: opening on the tail, live lines, markup shown as text, a bounded DOM, follow and
scroll-up, "show earlier", reconnect after the server went away, a refused socket) and the viewer
page (filter, search, highlight). Screenshots go to test-artifacts/."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from logs.files import LogFile

pytestmark = pytest.mark.browser

MAX_LINES = 300  # data-max-lines of the test page
BATCH_LINES = 500  # LogTailConsumer.batch_lines
PROJECT = Path(__file__).resolve().parents[2]
WAIT_MS = 15_000
ARTIFACTS = PROJECT / "test-artifacts"
DATA = Path(__file__).parent / "data"


class PanelServer:
    """daphne in a subprocess, serving logs/tests/panel_server on a fixed port (restartable)."""

    def __init__(self, log_path: Path, output: Path):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.log_path = log_path
        self.output = output
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "logs.tests.panel_server.settings", "PANEL_LOG": str(self.log_path)}
        with open(self.output, "ab") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port),
                 "logs.tests.panel_server.asgi:application"],
                cwd=PROJECT, env=env, stdout=output, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.output.read_text()
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"daphne did not start:\n{self.output.read_text()}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            # daphne gives open websockets' consumers up to 10 s (its application_close_timeout)
            # to end; a wait of exactly that raced it.
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def site(tmp_path):
    log = LogFile(tmp_path / "execution.log")
    server = PanelServer(log.path, tmp_path / "daphne.out")
    server.start()
    yield log, server
    server.stop()


@pytest.fixture
def panel_page(chromium):
    context = chromium.new_context(viewport={"width": 1000, "height": 800})
    page = context.new_page()
    yield page
    context.close()


def dom_lines(page) -> list[str]:
    return page.eval_on_selector_all("[data-lines] .ll", "elements => elements.map(e => e.textContent)")


def wait_for_last_line(page, text: str) -> None:
    page.wait_for_function(
        "text => { const l = document.querySelectorAll('[data-lines] .ll'); return l.length && l[l.length - 1].textContent === text }",
        arg=text, timeout=WAIT_MS,
    )


def wait_for_status(page, text: str) -> None:
    page.wait_for_function(
        "text => document.querySelector('[data-status]').textContent === text", arg=text, timeout=WAIT_MS
    )


def distance_from_bottom(page) -> float:
    return page.evaluate("() => { const b = document.querySelector('[data-lines]'); return b.scrollHeight - b.scrollTop - b.clientHeight }")


def scroll_to_top(page) -> None:
    page.evaluate("() => { document.querySelector('[data-lines]').scrollTop = 0 }")
    page.wait_for_selector("[data-follow]:not([hidden])", timeout=WAIT_MS)


def test_opens_on_the_tail_then_follows_live_lines_in_a_bounded_dom(site, panel_page):
    log, server = site
    written = [f"line {i}" for i in range(1000)]
    log.append(written)
    panel_page.goto(server.url + "/")
    wait_for_last_line(panel_page, "line 999")
    wait_for_status(panel_page, "Live")
    assert dom_lines(panel_page) == written[-MAX_LINES:]

    markup = ["<script>window.pwned = 1</script><b>bold?</b>", "[09-08 01:00:00|ERROR|a.py:1:f] it broke"]
    log.append(markup)
    written += markup
    wait_for_last_line(panel_page, markup[-1])
    assert panel_page.evaluate("window.pwned === undefined")
    assert panel_page.locator("[data-lines] b").count() == 0
    assert panel_page.locator(".ll.lvl-ERROR").last.text_content() == markup[-1]

    flood = [f"flood {i}" for i in range(6000)]
    for start in range(0, len(flood), 200):
        log.append(flood[start : start + 200])
    written += flood
    wait_for_last_line(panel_page, "flood 5999")
    shown = dom_lines(panel_page)
    assert MAX_LINES <= len(shown) <= MAX_LINES + BATCH_LINES
    assert shown == written[-len(shown):]  # contiguous: nothing lost or repeated
    assert distance_from_bottom(panel_page) < 8


def test_scrolled_up_it_stays_put_and_shows_earlier_lines_on_request(site, panel_page):
    log, server = site
    written = [f"line {i}" for i in range(1000)]
    log.append(written)
    panel_page.goto(server.url + "/")
    wait_for_last_line(panel_page, "line 999")
    scroll_to_top(panel_page)

    log.append(["while reading"])
    wait_for_last_line(panel_page, "while reading")
    assert panel_page.evaluate("document.querySelector('[data-lines]').scrollTop") == 0

    panel_page.click("[data-earlier]")
    panel_page.wait_for_function("() => document.querySelector('[data-lines] .ll').textContent === 'line 200'", timeout=WAIT_MS)
    assert dom_lines(panel_page) == written[200:] + ["while reading"]
    assert panel_page.evaluate("document.querySelector('[data-lines]').scrollTop") > 0  # the view did not jump

    panel_page.click("[data-follow]")
    assert distance_from_bottom(panel_page) < 8
    log.append(["following again"])
    wait_for_last_line(panel_page, "following again")


def test_a_flood_while_scrolled_up_is_counted_not_drawn_and_follow_reloads_the_tail(site, panel_page):
    log, server = site
    log.append([f"line {i}" for i in range(400)])
    panel_page.goto(server.url + "/")
    wait_for_last_line(panel_page, "line 399")
    scroll_to_top(panel_page)
    log.append([f"flood {i}" for i in range(2000)])
    panel_page.wait_for_function(
        "() => /new lines/.test(document.querySelector('[data-follow]').textContent)", timeout=WAIT_MS
    )
    assert len(dom_lines(panel_page)) <= 2 * MAX_LINES + BATCH_LINES
    panel_page.click("[data-follow]")
    wait_for_last_line(panel_page, "flood 1999")
    assert dom_lines(panel_page) == [f"flood {i}" for i in range(2000 - MAX_LINES, 2000)]


def test_after_the_server_comes_back_it_resumes_without_loss_or_repeat(site, panel_page):
    log, server = site
    written = [f"line {i}" for i in range(500)]
    log.append(written)
    panel_page.goto(server.url + "/")
    wait_for_last_line(panel_page, "line 499")
    server.stop()
    wait_for_status(panel_page, "Connection lost; reconnecting…")
    during = [f"while down {i}" for i in range(300)]
    log.append(during)
    written += during
    server.start()
    wait_for_last_line(panel_page, "while down 299")
    wait_for_status(panel_page, "Live")
    shown = dom_lines(panel_page)
    assert shown == written[-len(shown):]
    assert len(set(shown)) == len(shown)


def test_a_refused_socket_says_why_and_is_not_retried(site, panel_page):
    log, server = site
    log.append(["secret"])
    sockets = []
    panel_page.on("websocket", lambda ws: sockets.append(ws.url))
    panel_page.goto(server.url + "/refused")
    wait_for_status(panel_page, "You may not see this log.")
    panel_page.wait_for_timeout(2000)
    assert len(sockets) == 1
    assert dom_lines(panel_page) == []


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def test_viewer_page_filters_searches_and_highlights(site, panel_page):
    log, server = site
    log.append((DATA / "success.log").read_text().splitlines() + (DATA / "oom.log").read_text().splitlines())
    panel_page.goto(server.url + "/viewer")
    panel_page.check("input[name=level][value=ERROR]")
    panel_page.fill("input[name=q]", "out of memory")
    panel_page.press("input[name=q]", "Enter")
    panel_page.wait_for_selector(".log-lines mark")
    assert panel_page.locator(".log-lines mark").all_text_contents() == ["out of memory"]
    assert panel_page.locator(".log-row").count() == 1
    assert "1 of 39 lines match" in panel_page.text_content("main")
    screenshot(panel_page, "logs-viewer.png")
    panel_page.set_viewport_size({"width": 390, "height": 800})
    screenshot(panel_page, "logs-viewer-phone.png")


def test_panel_page_screenshot(site, panel_page):
    log, server = site
    log.append((DATA / "oom.log").read_text().splitlines())
    panel_page.goto(server.url + "/")
    wait_for_last_line(panel_page, "cosmos_transfer1/diffusion/inference/transfer.py FAILED")
    screenshot(panel_page, "logs-panel.png")
