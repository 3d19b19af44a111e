"""The run websocket (/ws/runs/<id>/): the owner and staff get the log and the run's state; anyone
else is refused as if the run did not exist."""

import pytest
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from cosmosproject.routing import websocket_urlpatterns
from logs.files import LogFile
from runs import services
from runs.models import Run, RunStatus
from runs.outputs import run_log_path

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]
TIMEOUT = 5


def communicator(run_id: str, user) -> WebsocketCommunicator:
    router = URLRouter(websocket_urlpatterns)

    async def app(scope, receive, send):
        return await router({**scope, "user": user}, receive, send)

    return WebsocketCommunicator(app, f"/ws/runs/{run_id}/")


@database_sync_to_async
def running_run(alice, make_prompt):
    [run] = services.inference_submit(user=alice, prompt_ids=[make_prompt(alice).id]).runs
    Run.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING, progress={"stage": "diffusion", "percent": 40})
    LogFile(run_log_path(run)).append(["[09-08 01:15:45|INFO|transfer.py:187:parse_arguments] final args: {}"])
    return run


async def messages_until(comm, wanted: str) -> list[dict]:
    seen = []
    while True:
        message = await comm.receive_json_from(timeout=TIMEOUT)
        seen.append(message)
        if message["type"] == wanted:
            return seen


async def test_the_owner_gets_the_log_and_the_runs_state(alice, make_prompt):
    run = await running_run(alice, make_prompt)
    comm = communicator(run.id, alice)
    connected, _ = await comm.connect(timeout=TIMEOUT)
    assert connected
    seen = await messages_until(comm, "synced")
    lines = [line for message in seen if message["type"] == "lines" for line in message["lines"]]
    assert any("final args" in line for line in lines)
    states = [message["state"] for message in seen if message["type"] == "state"]
    if not states:
        states = [message["state"] for message in await messages_until(comm, "state") if message["type"] == "state"]
    assert states[-1]["status"] == "running" and states[-1]["progress"]["percent"] == 40
    LogFile(run_log_path(run)).append(["a new line"])
    live = await messages_until(comm, "lines")
    assert live[-1]["lines"] == ["a new line"]
    await comm.disconnect()


async def test_staff_may_watch_anyones_run(alice, staff, make_prompt):
    run = await running_run(alice, make_prompt)
    comm = communicator(run.id, staff)
    connected, _ = await comm.connect(timeout=TIMEOUT)
    assert connected
    await messages_until(comm, "synced")
    await comm.disconnect()


async def test_another_user_is_refused(alice, bob, make_prompt):
    run = await running_run(alice, make_prompt)
    comm = communicator(run.id, bob)
    connected, _ = await comm.connect(timeout=TIMEOUT)
    if connected:  # accepted, then closed with the code, so the browser does not retry
        closed = await comm.receive_output(timeout=TIMEOUT)
        assert closed["type"] == "websocket.close" and closed["code"] == 4403
    await comm.disconnect()


async def test_an_unknown_run_is_refused_like_another_users(alice):
    comm = communicator("rs_doesnotexist", alice)
    connected, _ = await comm.connect(timeout=TIMEOUT)
    if connected:
        closed = await comm.receive_output(timeout=TIMEOUT)
        assert closed["code"] == 4403
    await comm.disconnect()
