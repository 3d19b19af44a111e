"""`timed_batches(items, interval=..., max_items=...)`: a blocking iterator, read in a thread,
handed over as lists at most every `interval` seconds.

What a live log needs from a follower: a line that comes after a quiet spell goes out at once
(no waiting for more to fill a batch), and a stream that never pauses still goes out every
`interval` seconds (no waiting for a quiet gap that never comes), in lists large enough that
the per-list work (an append, a wake-up) does not grow with the line rate. `max_items` bounds
a list when the consumer fell behind.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def timed_batches(items: Iterable[T], *, interval: float, max_items: int) -> Iterator[list[T]]:
    """Yield the items of `items` in order, as lists. The iterator runs in its own thread; an
    exception it raises is raised here after the items before it were yielded. Closing this
    generator early asks the thread to stop at its next item."""
    ready = threading.Condition()
    buffer: list[T] = []
    finished = False
    failure: list[BaseException] = []
    stop = threading.Event()

    def read() -> None:
        nonlocal finished
        try:
            for item in items:
                with ready:
                    buffer.append(item)
                    # Wake the consumer only when it can act: the first item, or a full list.
                    if len(buffer) == 1 or len(buffer) >= max_items:
                        ready.notify()
                if stop.is_set():
                    return
        except BaseException as error:  # handed to the consumer, re-raised there
            failure.append(error)
        finally:
            with ready:
                finished = True
                ready.notify()

    reader = threading.Thread(target=read, name="timed-batches", daemon=True)
    reader.start()
    last_yield = float("-inf")
    try:
        while True:
            with ready:
                ready.wait_for(lambda: buffer or finished)
                if not buffer:
                    break
                # The first item is here. Right after a list went out, give the next one the rest of
                # the interval to fill up; after a quiet spell, send at once.
                delay = last_yield + interval - time.monotonic()
                if delay > 0:
                    ready.wait_for(lambda: finished or len(buffer) >= max_items, timeout=delay)
                batch = buffer[:max_items]
                del buffer[:max_items]
            last_yield = time.monotonic()
            yield batch
    finally:
        stop.set()
    reader.join()
    if failure:
        raise failure[0]
