"""The file watcher: a change to a followed file sets its events, no change sets none."""

from __future__ import annotations

import asyncio

import pytest

from logs.file_watch import watch
from logs.files import LogFile

pytestmark = pytest.mark.asyncio

INTERVAL = 0.01
SETTLE = 0.1  # ten looks: long enough to see a change, short enough to keep the test quick


async def test_appending_wakes_every_event_of_the_file(tmp_path):
    log = LogFile(tmp_path / "execution.log")
    log.append(["before"])
    first, second = asyncio.Event(), asyncio.Event()
    stops = [watch(log.path, first, interval=INTERVAL), watch(log.path, second, interval=INTERVAL)]
    await asyncio.sleep(SETTLE)
    assert not first.is_set() and not second.is_set()  # what was there before watching is no change
    log.append(["after"])
    await asyncio.wait_for(asyncio.gather(first.wait(), second.wait()), 5)
    for stop in stops:
        stop()


async def test_a_file_that_appears_or_is_cut_back_is_a_change(tmp_path):
    path = tmp_path / "execution.log"
    event = asyncio.Event()
    stop = watch(path, event, interval=INTERVAL)
    LogFile(path).append(["first"])
    await asyncio.wait_for(event.wait(), 5)
    event.clear()
    path.write_bytes(b"")  # a worker taking a job over cuts the log back to its mark
    await asyncio.wait_for(event.wait(), 5)
    stop()


async def test_after_unwatch_changes_wake_nothing(tmp_path):
    log = LogFile(tmp_path / "execution.log")
    gone, stays = asyncio.Event(), asyncio.Event()
    stop_gone = watch(log.path, gone, interval=INTERVAL)
    stop_stays = watch(log.path, stays, interval=INTERVAL)
    stop_gone()
    log.append(["line"])
    await asyncio.wait_for(stays.wait(), 5)
    assert not gone.is_set()
    stop_stays()


async def test_other_files_do_not_wake_an_event(tmp_path):
    watched, other = LogFile(tmp_path / "a.log"), LogFile(tmp_path / "b.log")
    event = asyncio.Event()
    stop = watch(watched.path, event, interval=INTERVAL)
    other.append(["not this one"])
    await asyncio.sleep(SETTLE)
    assert not event.is_set()
    stop()
