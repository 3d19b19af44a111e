"""timed_batches: a line after a quiet spell goes at once, a stream that never pauses still goes
out while it flows, in order, errors after the items before them, and closing stops the reader."""

from __future__ import annotations

import threading
import time

import pytest

from logs.timed_batches import timed_batches

GIVE_UP = 10  # seconds a source waits for the consumer before it moves on (a failing test, not a hang)


def test_an_item_after_a_quiet_spell_is_handed_over_without_waiting_for_more():
    received = threading.Event()
    waited_out = []

    def source():
        yield "lonely line"
        waited_out.append(not received.wait(GIVE_UP))  # a batcher that holds the line never lets us on
        yield "next"

    batches = timed_batches(source(), interval=0.01, max_items=100)
    assert next(batches) == ["lonely line"]
    received.set()
    assert list(batches) == [["next"]]
    assert waited_out == [False]


def test_a_stream_that_never_pauses_is_handed_over_while_it_flows():
    # Items every millisecond: there is never a quiet gap, and no size limit is reached.
    handed_over = threading.Event()
    flowing = []

    def source():
        deadline = time.monotonic() + GIVE_UP
        count = 0
        while not handed_over.is_set() and time.monotonic() < deadline:
            yield count
            count += 1
            time.sleep(0.001)
        flowing.append(handed_over.is_set())

    batches = timed_batches(source(), interval=0.01, max_items=10**9)
    first = next(batches)
    handed_over.set()
    rest = [item for batch in batches for item in batch]
    assert flowing == [True]  # the first list came while the source was still producing
    assert first + rest == list(range(len(first) + len(rest)))


def test_lists_hold_at_most_max_items_and_keep_the_order():
    batches = list(timed_batches(iter(range(1000)), interval=0.05, max_items=64))
    assert all(len(batch) <= 64 for batch in batches)
    assert [item for batch in batches for item in batch] == list(range(1000))


def test_an_error_of_the_source_comes_after_the_items_before_it():
    def source():
        yield from ("a", "b", "c")
        raise ConnectionError("the host went away")

    received = []
    with pytest.raises(ConnectionError, match="went away"):
        for batch in timed_batches(source(), interval=0.01, max_items=100):
            received.extend(batch)
    assert received == ["a", "b", "c"]


def test_closing_early_stops_the_reader():
    pulled = []

    def source():
        while True:
            pulled.append(1)
            yield len(pulled)
            time.sleep(0.001)

    batches = timed_batches(source(), interval=0.01, max_items=100)
    next(batches)
    readers = [thread for thread in threading.enumerate() if thread.name == "timed-batches"]
    assert readers
    batches.close()
    for reader in readers:
        reader.join(GIVE_UP)
        assert not reader.is_alive()
