"""Cancel and kill against the simulator: a run waiting with its inputs uploaded is cancelled at
once and never starts; a running one has its container killed, confirmed gone, then cancelled."""

import pytest

from gpu.executor import executor_for
from runs import services
from runs.dispatcher import dispatch
from runs.models import Job, JobState, Run, RunStatus
from runs.tests.work import in_thread, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

SLOW = {"load_seconds": 30, "step_seconds": 0.01}


def container_started(run):
    run.refresh_from_db()
    return run.status == RunStatus.RUNNING and "Loading" in (run_log(run))


def run_log(run):
    from runs.outputs import run_log_path

    path = run_log_path(run)
    return path.read_text() if path.exists() else ""


def test_cancel_while_running_kills_the_container_first(alice, make_prompt, sim_host):
    sim_host.sim_config = SLOW
    sim_host.save()
    [run] = services.inference_submit(user=alice, prompt_ids=[make_prompt(alice).id]).runs
    [job] = dispatch()
    worker = in_thread(job)
    wait_for(lambda: container_started(run), what="the container to load its model")
    run = services.run_cancel(user=alice, run_id=run.id)
    assert run.status == RunStatus.CANCELLED
    with executor_for(sim_host) as executor:
        assert not executor.job_state(job.name).running
    worker.join(30)
    job.refresh_from_db()
    assert job.state == JobState.DONE and job.outcome == "cancelled"
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED and run.completed_at


def test_cancel_while_uploaded_and_waiting_for_the_gpu_never_starts_it(
    alice, make_prompt, other_scene, local_host, settings
):
    settings.COSMOS = {**settings.COSMOS, "PREFETCH_JOBS": 1}
    local_host.sim_config = SLOW
    local_host.save()
    first = services.inference_submit(user=alice, prompt_ids=[make_prompt(alice, "first").id]).runs[0]
    second_prompt = make_prompt(alice, "second", video_dir=other_scene)
    second = services.inference_submit(user=alice, prompt_ids=[second_prompt.id], params={"seed": 2}).runs[0]
    running, waiting = dispatch()
    workers = [in_thread(running), in_thread(waiting)]
    wait_for(lambda: Job.objects.get(pk=waiting.pk).state == JobState.READY, what="the second job's upload")
    assert Run.objects.get(pk=second.pk).status == RunStatus.UPLOADING
    assert services.run_cancel(user=alice, run_id=second.id).status == RunStatus.CANCELLED
    wait_for(lambda: Job.objects.get(pk=waiting.pk).state == JobState.DONE, what="the second job to give up")
    assert Job.objects.get(pk=waiting.pk).outcome == "cancelled"
    with executor_for(local_host) as executor:
        assert not executor.job_state(waiting.name).exists  # its container never existed
    services.run_cancel(user=alice, run_id=first.id)
    for worker in workers:
        worker.join(30)


def test_kill_stops_every_container_and_cancels_their_runs(alice, staff, make_prompt, local_host):
    local_host.sim_config = SLOW
    local_host.save()
    [run] = services.inference_submit(user=alice, prompt_ids=[make_prompt(alice).id]).runs
    [job] = dispatch()
    worker = in_thread(job)
    wait_for(lambda: container_started(run), what="the container to start")
    [result] = services.host_kill(user=staff)
    assert result["killed"] == [f"cosmos-{job.name}"]
    assert result["cancelled_runs"] == [run.id]
    worker.join(30)
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED
    assert Job.objects.get(pk=job.pk).outcome == "cancelled"


