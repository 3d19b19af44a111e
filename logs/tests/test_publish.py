"""Group names and LogPublisher: the file first, then one throttled notification per batch."""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import time
import uuid

import pytest
import redis
from channels.layers import get_channel_layer

from logs.files import LogFile
from logs.publish import NOTIFY_TYPE, LogPublisher, group_name, notify
from logs.testing import Listener


@pytest.fixture
def in_memory_layer(settings):
    # One event loop per async_to_sync call: the in-memory layer's queues must not outlive a loop,
    # so each test gets a fresh layer.
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


def test_valid_keys_are_group_names_as_they_are():
    assert group_name("run-rs_abc123") == "run-rs_abc123"


def test_other_keys_are_cleaned_and_never_collide():
    first, second = group_name("run-a/b"), group_name("run-a_b")
    assert first != second
    assert first.startswith("run-a_b.")
    long = group_name("x" * 300)
    assert len(long) < 100
    for name in (first, long, group_name(""), group_name("ünï cödé")):
        assert get_channel_layer().require_valid_group_name(name)


def test_write_puts_lines_in_the_file_and_notifies_with_the_end(tmp_path, in_memory_layer):
    group = f"run-{uuid.uuid4().hex}"
    listener = Listener(group)
    publisher = LogPublisher(tmp_path / "execution.log", group)
    end = publisher.write(["one", "two"])
    assert LogFile(tmp_path / "execution.log").read_from(0) == (["one", "two"], end)
    assert listener.messages() == [{"type": NOTIFY_TYPE, "end": end}]


def test_batches_inside_the_interval_share_one_notification_and_flush_sends_the_last(tmp_path, in_memory_layer):
    group = f"run-{uuid.uuid4().hex}"
    listener = Listener(group)
    publisher = LogPublisher(tmp_path / "execution.log", group, min_interval=60)
    first_end = publisher.write(["batch 1"])
    for n in range(2, 6):
        last_end = publisher.write([f"batch {n}"])
    assert listener.messages() == [{"type": NOTIFY_TYPE, "end": first_end}]
    publisher.flush()
    publisher.flush()  # nothing left to send
    assert listener.messages() == [{"type": NOTIFY_TYPE, "end": last_end}]
    assert LogFile(tmp_path / "execution.log").line_count() == 5


def test_state_changed_notifies_at_once_with_the_unsent_end(tmp_path, in_memory_layer):
    group = f"run-{uuid.uuid4().hex}"
    listener = Listener(group)
    publisher = LogPublisher(tmp_path / "execution.log", group, min_interval=60)
    publisher.write(["a"])
    end = publisher.write(["b"])
    listener.messages()
    publisher.state_changed()
    assert listener.messages() == [{"type": NOTIFY_TYPE, "state": True, "end": end}]


def test_a_broken_channel_layer_loses_no_line(tmp_path, settings, caplog):
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]}}
    }
    publisher = LogPublisher(tmp_path / "execution.log", "run-x")
    with caplog.at_level(logging.WARNING, logger="logs.publish"):
        end = publisher.write(["kept"])
    assert LogFile(tmp_path / "execution.log").read_from(0) == (["kept"], end)
    assert "Could not notify run-x" in caplog.text
    assert notify("run-x") is False


@pytest.fixture
def private_redis(tmp_path, settings):
    """A redis-server of this test's own, so that its connection count is ours alone."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        settings.CHANNEL_LAYERS = {
            "default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                        "CONFIG": {"hosts": [f"redis://127.0.0.1:{port}/0"]}}
        }
        yield client
    finally:
        client.close()
        process.terminate()
        process.wait(timeout=10)


def test_a_worker_keeps_one_redis_connection_for_all_its_notifications(private_redis):
    # A wake-up every 10 ms must not cost a new connection each (5 ms here, far more when loaded).
    opened_before = private_redis.info("stats")["total_connections_received"]
    for end in range(20):
        assert notify("run-x", {"end": end}) is True
    assert private_redis.info("stats")["total_connections_received"] - opened_before == 1
