"""JobLogs: what the worker writes reaches the run's page without waiting for a later batch."""

from __future__ import annotations

import pytest

from logs.publish import NOTIFY_TYPE
from logs.testing import Listener
from runs.joblog import JobLogs, run_group
from runs.models import Job
from runs.tests.factories import prompt_row, run_row

pytestmark = pytest.mark.django_db


@pytest.fixture
def in_memory_layer(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


def test_a_note_right_after_a_batch_is_announced_at_once(alice, in_memory_layer):
    run = run_row(prompt_row(alice))
    logs = JobLogs(Job(name="job-1", run_ids=[run.id]), [run])
    for publisher in logs.publishers:
        publisher.min_interval = 60  # however slow this machine, the note falls inside the throttle
    received = Listener(run_group(run.id)).messages
    logs.append(["a container line"], 17)
    logs.flush()
    received()
    logs.note("Container cosmos-job-1 ended with exit code 0.")
    assert received() == [{"type": NOTIFY_TYPE, "end": logs.mark()["files"][str(logs.paths[0])]}]
