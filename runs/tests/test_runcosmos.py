"""`manage.py runcosmos` on a fresh data dir: the login page answers, the printed admin can log in, it stops cleanly."""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Started:
    def __init__(self, data_dir: Path, port: int):
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "PYTEST_VERSION", "PYTEST_XDIST_WORKER")}
        env.update(COSMOS_DATA_DIR=str(data_dir), COSMOS_Q_WORKERS="1", PYTHONUNBUFFERED="1")
        self.port = port
        self.log = data_dir.parent / f"runcosmos-{port}.log"
        self.process = subprocess.Popen(
            [sys.executable, str(settings.BASE_DIR / "manage.py"), "runcosmos", "--port", str(port)],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        return self.log.read_text()

    def wait_until_serving(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while "is running: open" not in self.output():
            assert self.process.poll() is None, self.output()
            assert time.monotonic() < deadline, self.output()
            time.sleep(0.2)

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def log_in(port: int, username: str, password: str) -> str:
    """Log in through the real login form; return where the login redirected to."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect())
    url = f"http://127.0.0.1:{port}/accounts/login/"
    page = opener.open(url, timeout=10).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    data = urllib.parse.urlencode({"username": username, "password": password, "csrfmiddlewaretoken": token})
    try:
        response = opener.open(urllib.request.Request(url, data=data.encode(), headers={"Referer": url}), timeout=10)
        return f"no redirect ({response.status})"
    except urllib.error.HTTPError as redirect:
        return redirect.headers.get("Location") or str(redirect.code)


@pytest.fixture(scope="module")
def first_start(tmp_path_factory):
    """One start of the run command on a fresh data dir: logged in once with the printed admin, then stopped."""
    data_dir = tmp_path_factory.mktemp("runcosmos") / "data"
    app = Started(data_dir, free_port())
    try:
        app.wait_until_serving()
        login_page = urllib.request.urlopen(f"http://127.0.0.1:{app.port}/accounts/login/", timeout=10).status
        username, password = re.search(r"username: (\S+)\s+password: (\S+)", app.output()).groups()
        logins = (log_in(app.port, username, password), log_in(app.port, username, "wrong-password"))
    finally:
        code = app.stop()
    return data_dir, app, code, login_page, logins


def test_first_start_serves_the_login_page_to_the_printed_admin(first_start):
    data_dir, app, code, login_page, (good, bad) = first_start
    assert login_page == 200
    assert good == "/" and bad == "no redirect (200)"
    for name in ("color.mp4", "depth.mp4", "segmentation.mp4"):
        assert (data_dir / "samples" / "scene1" / name).stat().st_size > 0
    with sqlite3.connect(data_dir / "cosmos.sqlite3") as db:
        hosts = db.execute("SELECT name, transport, simulated, remote_dir FROM gpu_gpuhost").fetchall()
    assert hosts == [("local-sim", "local", 1, str(data_dir / "gpuhost"))]


def test_sigterm_stops_the_web_server_and_the_worker(first_start):
    data_dir, app, code, *_ = first_start
    assert code == 0 and "Stopped." in app.output()
    assert "Q Cluster" in app.output() and "has stopped" in app.output()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", app.port), timeout=1)


def test_second_start_keeps_the_admin_and_the_samples(first_start):
    data_dir, *_ = first_start
    sample = data_dir / "samples" / "scene1" / "color.mp4"
    written = sample.stat().st_mtime_ns
    second = Started(data_dir, free_port())
    try:
        second.wait_until_serving()
    finally:
        assert second.stop() == 0
    assert "password:" not in second.output() and "Wrote sample inputs" not in second.output()
    assert sample.stat().st_mtime_ns == written


def test_a_busy_port_is_reported(first_start):
    data_dir, *_ = first_start
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        app = Started(data_dir, busy.getsockname()[1])
        assert app.process.wait(timeout=90) != 0
    assert "The web server stopped" in app.output() and "Try --port" in app.output()
