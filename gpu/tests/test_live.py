"""gpu.live: hosts are asked in the background, once at a time per host, and their answers reused
for a few seconds; a caller waits no longer than it says. The host here is a real TCP server that
accepts SSH connections and never answers until told to hang up, so each question is a connection
it counts (gpu.testing's `silent` and `mute_host`)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from gpu import live

pytestmark = pytest.mark.django_db


def _until(condition, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.02)


def _answered(host):
    [answer] = live.hosts_say([host], wait=10)
    return answer


def test_a_host_that_does_not_answer_holds_the_caller_only_as_long_as_it_waits(mute_host, silent):
    started = time.monotonic()
    [answer] = live.hosts_say([mute_host], wait=0.3)

    assert time.monotonic() - started < 5  # not the transport's 10 s banner timeout (room for a loaded machine)
    assert answer == {"gpus": [], "containers": [], "error": "", "checked_at": None, "checking": True}

    silent.hang_up()  # the host's answer: it could not be asked
    answer = _answered(mute_host)
    assert answer["error"] and answer["checked_at"] and not answer["checking"]


def test_one_question_at_a_time_per_host_and_answers_are_reused(mute_host, silent):
    with ThreadPoolExecutor(4) as pool:
        waiting = list(pool.map(lambda _: live.hosts_say([mute_host], wait=0.3), range(4)))
    assert all(answer["checking"] for [answer] in waiting)
    _until(lambda: len(silent.accepted) == 1)
    time.sleep(0.2)
    assert len(silent.accepted) == 1  # four callers, one question

    silent.hang_up()
    first = _answered(mute_host)
    assert _answered(mute_host) == first  # fresh: given again, not asked again
    assert len(silent.accepted) == 1


def test_forgetting_a_host_or_saving_it_asks_it_again(mute_host, silent):
    silent.hang_up()  # every question now gets its answer (an error) at once
    first = _answered(mute_host)
    assert first["error"] and len(silent.accepted) == 1

    live.forget(mute_host)  # as after a kill: what the host would say has changed
    assert _answered(mute_host)["checked_at"] >= first["checked_at"]
    assert len(silent.accepted) == 2

    mute_host.slots = 2
    mute_host.save()  # its address or key may have changed too
    _answered(mute_host)
    assert len(silent.accepted) == 3
