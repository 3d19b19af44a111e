"""LogTailConsumer over a real file: backlog, live lines, reconnect by offset, refusals, state,
with the in-memory layer and with a real Redis layer, writers in this process and in others."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.routing import URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.test import Client
from django.urls import re_path

from logs.consumers import LogTailConsumer
from logs.files import LogFile
from logs.publish import anotify, group_name

# Channels closes old database connections when a socket disconnects: the tests need a database.
pytestmark = [pytest.mark.asyncio, pytest.mark.django_db]

REDIS_URL = os.environ.get("COSMOS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
TIMEOUT = 10  # generous: a loaded CI box must not fail a correct consumer (passing tests never wait it out)


class FileLogConsumer(LogTailConsumer):
    """The shape a higher app gives it: alice may watch, anyone else may not."""

    path: Path
    group: str | None = None
    state_box: dict | None = None

    async def authorize(self) -> bool:
        return self.scope["user"].username == "alice"

    async def log_path(self) -> Path:
        return self.path

    async def log_group(self) -> str | None:
        return self.group

    async def extra_state(self) -> dict:
        return dict(self.state_box or {})


def consumer(path: Path, **attributes):
    """A FileLogConsumer subclass for one test (channels' as_asgi does not pass attributes on)."""
    return type("TestLogConsumer", (FileLogConsumer,), {"path": path, **attributes})


def user(name: str):
    return get_user_model()(username=name)


def communicator(consumer_class, query: str = "", as_user=None) -> WebsocketCommunicator:
    inner = consumer_class.as_asgi()
    who = as_user if as_user is not None else user("alice")

    async def app(scope, receive, send):
        return await inner({**scope, "user": who}, receive, send)

    return WebsocketCommunicator(app, f"/ws/log/{'?' + query if query else ''}")


async def receive_lines(comm: WebsocketCommunicator, until_end: int, start: int | None = None) -> tuple[list[str], int]:
    """Lines until the stream reaches `until_end`, checking that every batch starts where the
    previous ended (no gap, no overlap)."""
    lines: list[str] = []
    end = start
    while end is None or end < until_end:
        message = await comm.receive_json_from(timeout=TIMEOUT)
        if message["type"] != "lines":
            continue
        if end is not None:
            assert message["start"] == end, "a gap or an overlap between batches"
        assert len(message["levels"]) == len(message["lines"])
        lines.extend(message["lines"])
        end = message["end"]
    return lines, end


async def next_of_type(comm: WebsocketCommunicator, kind: str) -> dict:
    while True:
        message = await comm.receive_json_from(timeout=TIMEOUT)
        if message["type"] == kind:
            return message


async def closed_with(comm: WebsocketCommunicator) -> int:
    while True:
        output = await comm.receive_output(timeout=TIMEOUT)
        if output["type"] == "websocket.close":
            return output["code"]


@pytest.fixture
def log(tmp_path) -> LogFile:
    return LogFile(tmp_path / "execution.log")


@pytest.fixture
def redis_layer(settings):
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
    except OSError:
        pytest.skip(f"Redis is not reachable at {REDIS_URL}")
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [REDIS_URL]}}
    }
    assert type(get_channel_layer()).__name__ == "RedisChannelLayer"
    return REDIS_URL


def write_in_another_process(log: LogFile, lines: list[str], *, notify_group: str | None = None, redis_url: str = "") -> None:
    """Append (and notify) from a separate Python process, as a task-queue worker would."""
    code = (
        "import sys, django; django.setup()\n"
        "from logs.publish import LogPublisher\n"
        "publisher = LogPublisher(sys.argv[1], sys.argv[2], min_interval=0)\n"
        "lines = sys.argv[3:]\n"
        "publisher.write(lines) if sys.argv[2] != '-' else publisher.log_file.append(lines)\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "cosmosproject.settings", "REDIS_URL": redis_url}
    subprocess.run(
        [sys.executable, "-c", code, str(log.path), notify_group or "-", *lines], check=True, env=env, cwd=os.getcwd()
    )


# ---- backlog, live, reconnect ---------------------------------------------------------------


async def test_backlog_comes_in_batches_then_live_lines_follow(log):
    backlog = [f"[09-08 01:15:{i % 60:02d}|INFO|a.py:1:f] backlog {i}" for i in range(400)]
    log.append(backlog)
    comm = communicator(consumer(log.path, batch_bytes=2048))
    assert (await comm.connect())[0]
    lines, end = await receive_lines(comm, log.size(), start=0)
    assert lines == backlog
    assert (await next_of_type(comm, "synced"))["end"] == end
    live_end = log.append(["live one", "Traceback (most recent call last):", "ValueError: live two"])
    message = await next_of_type(comm, "lines")
    assert (message["start"], message["end"]) == (end, live_end)
    assert message["lines"] == ["live one", "Traceback (most recent call last):", "ValueError: live two"]
    assert message["levels"] == ["INFO", "ERROR", "ERROR"]
    await comm.disconnect()


async def test_batches_hold_at_most_batch_lines(log):
    log.append([f"short {i}" for i in range(1200)])
    comm = communicator(consumer(log.path))
    assert (await comm.connect())[0]
    sizes = [len((await next_of_type(comm, "lines"))["lines"]) for _ in range(3)]
    assert sizes == [500, 500, 200]
    await comm.disconnect()


async def test_reconnecting_with_the_last_offset_misses_and_repeats_nothing(log):
    expected = [f"line {i}" for i in range(3000)]
    log.append(expected[:100])

    async def writer():
        for start in range(100, 3000, 100):
            log.append(expected[start : start + 100])
            await asyncio.sleep(0.005)

    writing = asyncio.create_task(writer())
    received: list[str] = []
    offset = 0
    for _round in range(4):  # drop the connection three times while lines keep coming
        comm = communicator(consumer(log.path, batch_bytes=1500), f"offset={offset}")
        assert (await comm.connect())[0]
        lines, offset = await receive_lines(comm, offset + 1, start=offset)
        received.extend(lines)
        await comm.disconnect()
    await writing
    comm = communicator(consumer(log.path), f"offset={offset}")
    assert (await comm.connect())[0]
    lines, offset = await receive_lines(comm, log.size(), start=offset)
    received.extend(lines)
    await comm.disconnect()
    assert received == expected


async def test_tail_starts_with_the_last_lines_and_their_offset(log):
    log.append([f"l{i}" for i in range(50)])
    comm = communicator(consumer(log.path), "tail=3")
    assert (await comm.connect())[0]
    first = await next_of_type(comm, "lines")
    assert first["lines"] == ["l47", "l48", "l49"]
    assert first["end"] == log.size()
    assert log.read_from(first["start"])[0] == ["l47", "l48", "l49"]
    await comm.disconnect()


async def test_a_log_that_does_not_exist_yet_is_followed_once_it_appears(log):
    comm = communicator(consumer(log.path))
    assert (await comm.connect())[0]
    assert (await next_of_type(comm, "synced"))["end"] == 0
    log.append(["first line"])
    assert (await next_of_type(comm, "lines"))["lines"] == ["first line"]
    await comm.disconnect()


async def test_lines_written_by_another_process_arrive_without_any_notification(log):
    """The default setup: worker and web in separate processes, in-memory layer: the file watcher
    delivers (the poll, set to a minute here, does not)."""
    comm = communicator(consumer(log.path, poll_interval=60))
    assert (await comm.connect())[0]
    await next_of_type(comm, "synced")
    await asyncio.to_thread(write_in_another_process, log, ["from the worker"])
    assert (await next_of_type(comm, "lines"))["lines"] == ["from the worker"]
    await comm.disconnect()


# ---- refusals ------------------------------------------------------------------------------


async def test_anonymous_user_is_refused_with_4401(log):
    comm = communicator(consumer(log.path), as_user=AnonymousUser())
    assert (await comm.connect())[0]  # accepted only to deliver the close code
    assert await closed_with(comm) == 4401


async def test_another_user_is_refused_with_4403_and_gets_no_line(log):
    log.append(["alice's secret"])
    comm = communicator(consumer(log.path), as_user=user("bob"))
    await comm.connect()
    output = await comm.receive_output(timeout=TIMEOUT)
    assert output == {"type": "websocket.close", "code": 4403}


@pytest.mark.parametrize(
    ("query", "message"),
    [("offset=abc", "offset must be a whole number"), ("offset=-5", "offset must be a whole number"),
     ("offset=999", "past the end"), ("offset=0&tail=5", "either offset or tail"), ("tail=0", "tail must be between")],
)
async def test_bad_start_gets_a_clear_error_and_4400(log, query, message):
    log.append(["x"])
    comm = communicator(consumer(log.path), query)
    assert (await comm.connect())[0]
    error = await comm.receive_json_from(timeout=TIMEOUT)
    assert error["type"] == "error" and message in error["message"]
    assert await closed_with(comm) == 4400


# ---- notifications and state ---------------------------------------------------------------


async def test_a_group_notification_wakes_the_consumer_without_waiting_for_the_poll(log):
    group = group_name(f"run-{uuid.uuid4().hex}")
    comm = communicator(consumer(log.path, group=group, poll_interval=60, watch_interval=None))
    assert (await comm.connect())[0]
    await next_of_type(comm, "synced")
    end = log.append(["woken"])
    assert await comm.receive_nothing(timeout=0.3)  # with a 60 s poll, nothing comes unprompted
    await anotify(group, {"end": end})
    assert (await next_of_type(comm, "lines"))["lines"] == ["woken"]
    await comm.disconnect()


async def test_state_is_sent_on_connect_and_when_a_notification_says_it_changed(log):
    group = group_name(f"run-{uuid.uuid4().hex}")
    box = {"status": "running", "progress": {"stage": "diffusion", "step": 3}}
    comm = communicator(consumer(log.path, group=group, state_box=box, state_interval=60))
    assert (await comm.connect())[0]
    assert (await next_of_type(comm, "state"))["state"] == box
    box["status"] = "completed"
    await anotify(group, {"state": True})
    assert (await next_of_type(comm, "state"))["state"]["status"] == "completed"
    await comm.disconnect()


async def test_unchanged_state_is_not_sent_again(log):
    box = {"status": "running"}
    comm = communicator(consumer(log.path, state_box=box, state_interval=0.01))
    assert (await comm.connect())[0]
    await next_of_type(comm, "state")
    await next_of_type(comm, "synced")
    assert await comm.receive_nothing(timeout=0.3)
    await comm.disconnect()


# ---- Redis channel layer, across processes ---------------------------------------------------


async def test_redis_notification_from_another_process_wakes_the_consumer(log, redis_layer):
    group = group_name(f"run-{uuid.uuid4().hex}")
    comm = communicator(consumer(log.path, group=group, poll_interval=60, watch_interval=None))
    assert (await comm.connect())[0]
    await next_of_type(comm, "synced")
    await asyncio.to_thread(write_in_another_process, log, ["via redis 1", "via redis 2"], notify_group=group, redis_url=redis_layer)
    assert (await next_of_type(comm, "lines"))["lines"] == ["via redis 1", "via redis 2"]
    await comm.disconnect()


async def test_redis_layer_backlog_live_and_reconnect(log, redis_layer):
    group = group_name(f"run-{uuid.uuid4().hex}")
    log.append(["old 1", "old 2"])
    comm = communicator(consumer(log.path, group=group))
    assert (await comm.connect())[0]
    lines, end = await receive_lines(comm, log.size(), start=0)
    assert lines == ["old 1", "old 2"]
    await comm.disconnect()
    new_end = log.append(["new 1"])
    await anotify(group, {"end": new_end})  # nobody listens: harmless
    comm = communicator(consumer(log.path, group=group), f"offset={end}")
    assert (await comm.connect())[0]
    assert (await receive_lines(comm, new_end, start=end))[0] == ["new 1"]
    await comm.disconnect()


# ---- the project's own websocket stack: session auth and origin check ------------------------


def project_stack(consumer_class):
    return AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter([re_path(r"^ws/log/$", consumer_class.as_asgi())])))


def session_headers(username: str | None) -> list[tuple[bytes, bytes]]:
    headers = [(b"origin", b"http://127.0.0.1")]
    if username:
        client = Client()
        client.login(username=username, password=f"{username}-pass-123")
        headers.append((b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()))
    return headers


@pytest.mark.django_db(transaction=True)  # the session is read from another thread: it must be committed
@pytest.mark.parametrize(("who", "outcome"), [("alice", "lines"), ("bob", 4403), (None, 4401)])
async def test_session_login_decides_through_the_real_auth_stack(log, alice, bob, who, outcome):
    log.append(["only for alice"])
    comm = WebsocketCommunicator(project_stack(consumer(log.path)), "/ws/log/", headers=await database_sync_to_async(session_headers)(who))
    assert (await comm.connect())[0]
    if outcome == "lines":
        assert (await next_of_type(comm, "lines"))["lines"] == ["only for alice"]
        await comm.disconnect()
    else:
        assert await closed_with(comm) == outcome


async def test_foreign_origin_is_rejected_before_anything_runs(log):
    comm = WebsocketCommunicator(project_stack(consumer(log.path)), "/ws/log/", headers=[(b"origin", b"http://evil.example")])
    connected, _code = await comm.connect()
    assert not connected
