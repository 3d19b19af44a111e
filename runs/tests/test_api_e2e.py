"""The README's curl session, for real: a daphne server and a task worker (`manage.py qcluster`) as
separate processes, a simulated GPU host, and plain HTTP requests with a bearer token.

Create a prompt by uploading its videos -> start a run -> poll it until it completes -> read its
log -> download the output (whole and by range) and decode it with PyAV.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import av
import pytest
from django.conf import settings

from accounts.tokens import token_create
from cosmosproject.testing import database_url, free_port
from prompts.testing import SCENE_FRAMES
from prompts.videos import ROLES

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT = 120


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def server(local_host, tmp_path):
    """Base URL of the web server on the test database, with a qcluster working its queue."""
    env = dict(
        os.environ,
        COSMOS_DATA_DIR=str(settings.DATA_DIR),
        DATABASE_URL=database_url(),
        COSMOS_Q_WORKERS="2",
        COSMOS_SMART_NAMES="0",
        LOG_LEVEL="WARNING",
    )
    port = free_port()
    logs = {name: open(tmp_path / f"{name}.log", "wb") for name in ("daphne", "qcluster")}
    # As deployed: daphne in two processes on one socket (cosmosproject.serve).
    daphne = subprocess.Popen(
        [sys.executable, "-m", "cosmosproject.serve", "--port", str(port), "--processes", "2"],
        cwd=ROOT, env=env, stdout=logs["daphne"], stderr=subprocess.STDOUT,
    )
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"], cwd=ROOT, env=env, stdout=logs["qcluster"], stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert daphne.poll() is None and time.monotonic() < deadline, (tmp_path / "daphne.log").read_text()
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(worker)
        _stop(daphne)
        for handle in logs.values():
            handle.close()


class Http:
    """urllib, the way a script without dependencies would talk to the API."""

    def __init__(self, base: str, token: str):
        self.base = base
        self.headers = {"Authorization": f"Bearer {token}"}

    def request(self, method: str, path: str, *, body: bytes | None = None, headers: dict | None = None):
        request = urllib.request.Request(
            self.base + path, data=body, method=method, headers={**self.headers, **(headers or {})}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def json(self, method: str, path: str, data=None, **headers):
        body = None if data is None else json.dumps(data).encode()
        headers = {"Content-Type": "application/json", **headers}
        status, _, content = self.request(method, path, body=body, headers=headers)
        return status, json.loads(content)

    def upload(self, path: str, fields: dict[str, str], files: dict[str, Path]):
        boundary = uuid.uuid4().hex
        parts = []
        for name, value in fields.items():
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
        for name, file in files.items():
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{file.name}"\r\n'
                f"Content-Type: video/mp4\r\n\r\n".encode() + file.read_bytes() + b"\r\n"
            )
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        status, _, content = self.request(
            "POST", path, body=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
        )
        return status, json.loads(content)


def test_upload_run_poll_download(server, alice, scene_dir, tmp_path):
    _, token = token_create(user=alice, name="e2e")
    http = Http(server, token)

    status, prompt = http.upload(
        "/api/prompts",
        {"prompt_text": "A red ball bounces across a plaza at dusk", "name": "e2e_ball"},
        {role: scene_dir / f"{role}.mp4" for role in ROLES},
    )
    assert status == 201, prompt

    status, submitted = http.json(
        "POST", "/api/runs", {"prompt_id": prompt["id"], "num_steps": 5}, **{"Idempotency-Key": "e2e-1"}
    )
    assert status == 201, submitted
    run_id = submitted["runs"][0]["id"]

    seen = []
    deadline = time.monotonic() + RUN_TIMEOUT
    while True:
        status, run = http.json("GET", f"/api/runs/{run_id}")
        assert status == 200, run
        if not seen or seen[-1] != run["status"]:
            seen.append(run["status"])
        if run["status"] in ("completed", "failed", "cancelled"):
            break
        assert time.monotonic() < deadline, f"run still {run['status']} after {RUN_TIMEOUT} s (saw {seen})"
        time.sleep(0.25)
    assert run["status"] == "completed", run["error"]
    assert seen[0] in ("pending", "queued", "uploading", "running")
    assert run["progress"]["percent"] == 100
    assert {"output.mp4", "execution.log", "manifest.txt"} <= {f["name"] for f in run["files"]}

    status, chunk = http.json("GET", f"/api/runs/{run_id}/logs?offset=0")
    assert status == 200 and chunk["finished"] is True
    assert any("Starting diffusion sampling" in line for line in chunk["lines"])

    status, headers, video = http.request("GET", f"/api/runs/{run_id}/files/output.mp4")
    assert status == 200 and headers["Content-Type"] == "video/mp4" and int(headers["Content-Length"]) == len(video)
    output = tmp_path / "output.mp4"
    output.write_bytes(video)
    with av.open(str(output)) as container:
        frames = [frame for frame in container.decode(video=0)]
    color = prompt["inputs"]["color"]
    assert len(frames) == SCENE_FRAMES == color["frames"]
    assert (frames[0].width, frames[0].height) == (color["width"], color["height"])

    status, headers, part = http.request("GET", f"/api/runs/{run_id}/files/output.mp4", headers={"Range": "bytes=0-99"})
    assert status == 206 and part == video[:100] and headers["Content-Range"] == f"bytes 0-99/{len(video)}"

    # The same request again with the same key: the same run, no second one.
    status, again = http.json(
        "POST", "/api/runs", {"prompt_id": prompt["id"], "num_steps": 5}, **{"Idempotency-Key": "e2e-1"}
    )
    assert status == 201 and again["replayed"] is True and again["runs"][0]["id"] == run_id
    assert again["runs"][0]["status"] == "completed"
