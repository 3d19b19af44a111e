"""A host that cannot be reached when a job starts: the runs wait (back to pending, with a note)
and fail with the reason after HOST_ATTEMPTS; nothing is half-written, the host is rested."""

import socket

import pytest

from runs import services
from runs.dispatcher import dispatch, hosts_usable
from runs.models import Job, Run, RunStatus
from runs.tests.work import work_off

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def dead_host(make_ssh_host):
    with socket.socket() as sock:  # a port where nothing listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return make_ssh_host(port=port, name="a-dead-host")  # sorts first: tried first


def test_unreachable_host_sends_the_run_back_to_pending_with_a_note(alice, make_prompt, dead_host, settings):
    settings.COSMOS = {**settings.COSMOS, "HOST_ATTEMPTS": 3, "HOST_RETRY_SECONDS": 3600}
    [run] = services.inference_submit(user=alice, prompt_ids=[make_prompt(alice).id]).runs
    assert work_off() == ["requeued"]
    run.refresh_from_db()
    assert run.status == RunStatus.PENDING
    assert run.host is None and run.job_id == ""
    assert run.run_metadata["host_attempts"] == 1
    assert "could not be reached" in run.run_metadata["note"]
    assert dead_host not in hosts_usable()  # rested: no new job for it right away
    assert dispatch() == []


def test_runs_fail_with_the_reason_after_the_last_attempt(alice, make_prompt, dead_host, settings):
    settings.COSMOS = {**settings.COSMOS, "HOST_ATTEMPTS": 2, "HOST_RETRY_SECONDS": 0}
    [run] = services.inference_submit(user=alice, prompt_ids=[make_prompt(alice).id]).runs
    assert work_off() == ["requeued", "requeued"]
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert run.failure_reason == "lost_connection"
    assert "gave up after 2 attempts" in run.error
    assert [job.name for job in Job.objects.order_by("id")] == [run.id, f"{run.id}.2"]


def test_the_run_completes_on_another_host_when_one_is_down(alice, make_prompt, dead_host, local_host, settings):
    settings.COSMOS = {**settings.COSMOS, "HOST_RETRY_SECONDS": 3600}
    [run] = services.inference_submit(user=alice, prompt_ids=[make_prompt(alice).id]).runs
    outcomes = work_off()
    run.refresh_from_db()
    assert outcomes == ["requeued", "completed"]
    assert run.status == RunStatus.COMPLETED, run.run_metadata
    assert run.host == local_host
    assert Run.objects.count() == 1
