"""The pages in a real browser: Playwright drives Debian's chromium against a real daphne and a
real qcluster (subprocesses on the test database), with a simulated GPU host on the local
transport. Run apart from the other tests: `pytest -m browser -p no:xdist` (see Makefile).

A screenshot of each main page lands in test-artifacts/ (wide and phone width).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from prompts.services import prompt_create
from runs.models import Run, RunStatus
from runs.services import inference_submit

pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Playwright's sync API runs an event loop in this thread; the test's own ORM calls are still sync.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"
WIDE = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
# A run slow enough to watch its log and progress move (about 5 s), and one slow enough to cancel.
WATCHABLE_SIM = {"load_seconds": 1.0, "step_seconds": 0.35}
SLOW_SIM = {"load_seconds": 2.0, "step_seconds": 2.0}


@pytest.fixture(autouse=True)
def isolated_storage():
    """Replaces prompts.testing's per-test folders: the server and the worker are other processes,
    on the default folders of the data dir, and must see the same inputs and outputs as the test."""


@pytest.fixture(autouse=True)
def fast_password_hashing():
    """Replaces prompts.testing's MD5 hashing: the server logs users in with the default hashers."""


@dataclass
class Stack:
    url: str
    port: int
    logs: Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _test_database_url() -> str:
    """The test database as DATABASE_URL, for the server and worker subprocesses."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _wait_until_answering(url: str, process: subprocess.Popen, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited early:\n{log.read_text()[-3000:]}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    raise RuntimeError(f"the server did not answer {url} within {timeout:.0f} s:\n{log.read_text()[-3000:]}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def stack(django_db_setup, tmp_path_factory):
    """daphne (pages + websockets) and a qcluster (the pipeline), both on the test database."""
    logs = tmp_path_factory.mktemp("stack")
    env = {
        **os.environ,
        "COSMOS_DATA_DIR": str(settings.DATA_DIR),
        "DATABASE_URL": _test_database_url(),
        "COSMOS_Q_WORKERS": "2",
        "PYTHONUNBUFFERED": "1",
    }
    port = _free_port()
    processes = []
    try:
        for name, argv in (
            ("daphne", [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                        "cosmosproject.asgi:application"]),
            ("qcluster", [sys.executable, "manage.py", "qcluster"]),
        ):
            log = logs / f"{name}.log"
            processes.append(subprocess.Popen(
                argv, cwd=settings.BASE_DIR, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
                start_new_session=True,
            ))
        _wait_until_answering(f"http://127.0.0.1:{port}/accounts/login/", processes[0], logs / "daphne.log")
        yield Stack(url=f"http://127.0.0.1:{port}", port=port, logs=logs)
    finally:
        for process in processes:
            _stop(process)


@pytest.fixture
def new_page(chromium):
    contexts = []

    def make(viewport=WIDE, color_scheme="light"):
        context = chromium.new_context(viewport=viewport, color_scheme=color_scheme)
        context.set_default_timeout(45_000)  # the machine may be busy with other test processes
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def log_in(page, stack: Stack, username: str, password: str) -> None:
    page.goto(f"{stack.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{stack.url}/")


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def progress_of(page) -> int:
    return int(page.get_attribute("#run-summary [data-run-progress]", "aria-valuenow"))


def wait_for_status(page, status: str, timeout: float = 60_000) -> None:
    page.wait_for_selector(f'#run-summary [data-run-status="{status}"]', timeout=timeout)


# ---- the whole way: upload, run, watch, play, compare --------------------------------------------


def test_create_run_watch_play_and_compare(stack, new_page, alice, make_local_host, scene_dir):
    make_local_host(sim_config=WATCHABLE_SIM)
    page = new_page()
    log_in(page, stack, "alice", "alice-pass-123")
    shot(page, "dashboard-empty")

    # Create a prompt by uploading its three videos.
    page.goto(f"{stack.url}/prompts/new/")
    shot(page, "prompt-new")
    page.fill("#id_prompt_text", "A red ball bounces across a tiled plaza past a blue crate at dusk")
    for role in ("color", "depth", "segmentation"):
        page.set_input_files(f"#id_{role}", str(scene_dir / f"{role}.mp4"))
    page.click("button:has-text('Create prompt')")
    page.wait_for_url(re.compile(r"/prompts/ps_[^/]+/$"))
    assert "Created prompt" in page.inner_text(".messages")
    # The smart name arrives from the worker; the page polls until it has.
    page.wait_for_selector("#prompt-name:not(:has(.badge))", timeout=60_000)
    assert page.locator("video[aria-label='color input video']").count() == 1
    shot(page, "prompt-detail")

    # Start an inference with a few steps, on the simulated host.
    page.fill("#id_num_steps", "12")
    page.fill("#id_seed", "5")
    page.click("button:has-text('Start inference')")
    page.wait_for_url(re.compile(r"/runs/rs_[^/]+/$"))
    run_id = page.url.rstrip("/").rsplit("/", 1)[-1]

    # Log lines arrive live and the progress bar moves while it runs.
    page.wait_for_selector("[data-log-panel] [data-lines] .ll", timeout=60_000)
    seen = set()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        seen.add(progress_of(page))
        if page.locator('#run-summary [data-run-status="completed"]').count():
            break
        time.sleep(0.1)
    wait_for_status(page, "completed", timeout=5_000)
    assert len({p for p in seen if 0 < p < 100}) >= 2, f"the progress bar did not move: {sorted(seen)}"
    lines = page.inner_text("[data-log-panel] [data-lines]")
    assert "final args" in lines and "Saved video" in lines
    assert progress_of(page) == 100

    # The summary was refreshed with the output: play it.
    page.wait_for_selector("#output-video")
    page.evaluate("document.querySelector('#output-video').play()")
    page.wait_for_function("document.querySelector('#output-video').currentTime > 0.1")
    page.evaluate("document.querySelector('#output-video').pause()")

    # Compare input and output: play together, pause, step a frame, scrub.
    compare = page.locator("[data-compare]")
    compare.scroll_into_view_if_needed()
    videos = "Array.from(document.querySelectorAll('[data-compare] video')).map(v => v.currentTime)"
    page.wait_for_function("Array.from(document.querySelectorAll('[data-compare] video')).every(v => v.readyState >= 2)")
    compare.locator("[data-compare-action=toggle]").click()
    page.wait_for_function(f"{videos}.every(t => t > 0.1)")
    compare.locator("[data-compare-action=toggle]").click()
    assert compare.get_attribute("data-compare-state") == "paused"
    times = page.evaluate(videos)
    assert max(times) - min(times) < 0.05, f"the videos drifted apart: {times}"
    scrub_to = """(value) => { const s = document.querySelector('[data-compare-scrub]');
                               s.value = String(value); s.dispatchEvent(new Event('input', {bubbles: true})); }"""
    page.evaluate(scrub_to, 0)
    page.wait_for_function(f"{videos}.every(t => t < 0.01)")
    for button, frame in (("forward", 1), ("forward", 2), ("back", 1)):
        compare.locator(f"[data-compare-action={button}]").click()
        page.wait_for_function(f"{videos}.every(t => Math.abs(t - {frame}/24) < 0.01)")
    assert "frame 1" in compare.locator("[data-compare-time]").inner_text()
    page.evaluate(scrub_to, 500)
    page.wait_for_function(
        f"(() => {{ const t = {videos}; const d = document.querySelector('[data-compare] video').duration;"
        " return t.every(x => Math.abs(x - d / 2) < 0.05); })()"
    )
    shot(page, "run-detail")

    # Upscale the output: the upscale's own page compares input, output and the 4K output.
    page.click("button:has-text('Upscale to 4K')")
    page.wait_for_url(re.compile(r"/runs/rs_[^/]+/$"))
    assert page.url.rstrip("/").rsplit("/", 1)[-1] != run_id
    wait_for_status(page, "completed", timeout=90_000)
    page.wait_for_selector("[data-compare]")
    labels = page.locator("[data-compare] figcaption").all_inner_texts()
    assert labels == ["Input", "Output", "Upscaled"]
    page.wait_for_function("Array.from(document.querySelectorAll('[data-compare] video')).every(v => v.videoWidth > 0)")
    sizes = page.evaluate("Array.from(document.querySelectorAll('[data-compare] video')).map(v => v.videoWidth)")
    assert sizes[2] == 4 * sizes[1], f"the upscaled video is not 4x the output: {sizes}"
    shot(page, "run-upscaled")

    # The other main pages, for the record (and to see they render with data).
    for name, path in (("dashboard", "/"), ("prompts", "/prompts/"), ("runs", "/runs/"), ("hosts", "/hosts/"),
                       ("log-viewer", f"/logs/{run_id}/"), ("profile", "/accounts/profile/")):
        page.goto(stack.url + path)
        if name == "hosts":
            page.wait_for_selector("#hosts-live table, #hosts-live .muted:not(:has-text('Asking'))")
        shot(page, name)
    page.goto(f"{stack.url}/prompts/?q=plaza")
    assert page.locator("mark").first.inner_text().lower() == "plaza"
    shot(page, "prompts-search")


def test_cancel_a_running_job(stack, new_page, alice, make_local_host, scene_dir):
    make_local_host(sim_config=SLOW_SIM)
    prompt = prompt_create(user=alice, prompt_text="A slow scene to cancel", video_dir=scene_dir)
    run = inference_submit(user=alice, prompt_ids=[prompt.id], params={"num_steps": 60}).runs[0]
    page = new_page()
    log_in(page, stack, "alice", "alice-pass-123")
    page.goto(f"{stack.url}/runs/{run.id}/")
    wait_for_status(page, "running")
    page.wait_for_selector("[data-log-panel] [data-lines] .ll")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button:has-text('Cancel run')")
    wait_for_status(page, "cancelled", timeout=30_000)
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED


def test_bob_cannot_open_alices_run_page_or_websocket(stack, new_page, alice, bob, scene_dir):
    prompt = prompt_create(user=alice, prompt_text="Alice's private scene", video_dir=scene_dir)
    run = Run.objects.create(prompt=prompt, owner=alice, status=RunStatus.COMPLETED)
    open_socket = """async (path) => {
        const url = new URL(path, location.href); url.protocol = 'ws:';
        return await new Promise((resolve) => {
            const ws = new WebSocket(url);
            ws.onmessage = (e) => { const m = JSON.parse(e.data); if (m.type === 'synced') { ws.close(); resolve('synced'); } };
            ws.onclose = (e) => resolve(e.code);
        });
    }"""

    bobs = new_page()
    log_in(bobs, stack, "bob", "bob-pass-123")
    response = bobs.goto(f"{stack.url}/runs/{run.id}/")
    assert response.status == 404
    assert "Alice's private scene" not in bobs.content()
    bobs.goto(f"{stack.url}/")
    assert bobs.evaluate(open_socket, f"/ws/runs/{run.id}/") == 4403

    alices = new_page()
    log_in(alices, stack, "alice", "alice-pass-123")
    assert alices.goto(f"{stack.url}/runs/{run.id}/").status == 200
    assert alices.evaluate(open_socket, f"/ws/runs/{run.id}/") == "synced"


def test_pages_at_phone_width(stack, new_page, alice, scene_dir):
    prompt = prompt_create(user=alice, prompt_text="A red ball on a phone screen", video_dir=scene_dir)
    page = new_page(PHONE)
    log_in(page, stack, "alice", "alice-pass-123")
    for name, path in (("phone-dashboard", "/"), ("phone-prompts", "/prompts/"),
                       ("phone-prompt-detail", f"/prompts/{prompt.id}/"), ("phone-runs", "/runs/")):
        page.goto(stack.url + path)
        # Nothing is wider than the screen (no sideways scrolling of the page).
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1, name
        shot(page, name)


def test_keyboard_reaches_the_navigation_and_the_forms(stack, new_page, alice):
    page = new_page()
    log_in(page, stack, "alice", "alice-pass-123")
    page.goto(f"{stack.url}/prompts/new/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    focused = []
    for _ in range(12):
        page.keyboard.press("Tab")
        focused.append(page.evaluate("document.activeElement.textContent || document.activeElement.id"))
    assert "Prompts" in focused and "Runs" in focused and "id_prompt_text" in focused
    # Every form control has a label a screen reader can read.
    unlabelled = page.evaluate("""Array.from(document.querySelectorAll('input:not([type=hidden]), select, textarea'))
        .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')).map(el => el.name)""")
    assert unlabelled == []


def test_a_zip_of_png_sequences_becomes_a_prompt(stack, new_page, alice, tmp_path):
    from prompts.prepare.testing import write_sequence, zip_folder

    archive = zip_folder(write_sequence(tmp_path / "shot", frames=range(1, 7)), tmp_path / "shot.zip", wrap="shot")
    page = new_page()
    log_in(page, stack, "alice", "alice-pass-123")
    page.goto(f"{stack.url}/prompts/new/")
    page.click("summary:has-text('From a zip of PNG sequences')")
    page.set_input_files("#zip_zip", str(archive))
    page.fill("#zip_prompt_text", "A bright square slides across a gradient")
    page.click("button:has-text('Upload and prepare')")
    page.wait_for_url(re.compile(r"/prompts/prepare/pp_[^/]+/$"))
    shot(page, "prompt-preparation")
    # The worker prepares it; the page follows the progress and opens the new prompt.
    page.wait_for_url(re.compile(r"/prompts/ps_[^/]+/$"), timeout=90_000)
    assert "A bright square slides across a gradient" in page.inner_text("main")
    assert page.locator("video[aria-label='segmentation input video']").count() == 1


def test_the_theme_follows_the_system(stack, new_page, alice):
    background = "getComputedStyle(document.body).backgroundColor"
    for scheme, dark in (("light", False), ("dark", True)):
        page = new_page(color_scheme=scheme)
        log_in(page, stack, "alice", "alice-pass-123")
        red, green, blue = map(int, re.findall(r"\d+", page.evaluate(background))[:3])
        assert ((red + green + blue) / 3 < 80) == dark, (scheme, page.evaluate(background))
        shot(page, f"dashboard-{scheme}")
