"""The list reads answer their selectors' dicts without ninja's response check
(prompts.api_render.shaped_response): each body must still be exactly what its documented schema
gives. A body read back through the schema and dumped again is unchanged: no key the schema lacks,
none missing, no value it would have converted. Rows cover every field that can be set."""

from __future__ import annotations

import shutil
from datetime import timedelta

import pytest
from django.utils import timezone

from prompts.schemas import PromptPageOut
from prompts.tests.api_support import ApiClient
from runs.models import Job, JobState, Run, RunStatus
from runs.schemas import RunPageOut
from runs.selectors import run_output_dir
from runs.tests.factories import host_row

pytestmark = pytest.mark.django_db


def assert_is_schema_shape(schema, body: dict) -> None:
    dumped = schema.model_validate(body).model_dump(mode="json")
    for index, (item, as_schema) in enumerate(zip(body["items"], dumped["items"])):
        differing = {key for key in item.keys() | as_schema.keys() if item.get(key, "-") != as_schema.get(key, "-")}
        assert not differing, (index, {key: (item.get(key, "-"), as_schema.get(key, "-")) for key in differing})
    assert dumped == body


@pytest.fixture
def filled(alice, make_prompt, scene_dir):
    """alice's prompts (named, negative prompt, default) and runs in every kind of state."""
    api = ApiClient(alice)
    plain = make_prompt(alice)
    named = make_prompt(alice, "A red tram crosses a rainy square", name="tram_square", negative_prompt="blurry")
    response = api.post("/runs", {"prompt_ids": [plain.id, named.id], "weights": {"vis": 0.5, "edge": 0.5}, "seed": 3})
    assert response.status_code == 201, response.content
    first, second = (Run.objects.get(pk=run["id"]) for run in response.json()["runs"])
    host = host_row("shape-host")
    job = Job.objects.create(name="shape-job", host=host, state=JobState.RUNNING)
    now = timezone.now()
    Run.objects.filter(pk=first.pk).update(
        status=RunStatus.COMPLETED, host=host, job_id=job.name, outputs={"video": "output.mp4", "frames": 121},
        run_metadata={"container": "cosmos-shape-job"}, progress={"stage": "done", "percent": 100},
        queued_at=now - timedelta(minutes=5), uploading_at=now - timedelta(minutes=4),
        started_at=now - timedelta(minutes=3), downloading_at=now - timedelta(minutes=1), completed_at=now,
    )
    Run.objects.filter(pk=second.pk).update(
        status=RunStatus.FAILED, error="CUDA out of memory", failure_reason="oom", cancel_requested_at=now
    )
    folder = run_output_dir(first)
    folder.mkdir(parents=True)
    shutil.copy(scene_dir / "color.mp4", folder / "output.mp4")
    response = api.post(f"/runs/{first.pk}/upscale", {})
    assert response.status_code in (200, 201), response.content
    return api


def assert_pages_have_schema_shape(api: ApiClient, path: str, schema, queries: list[dict]) -> None:
    for params in queries:
        response = api.get(path, params)
        assert response.status_code == 200 and response["Content-Type"] == "application/json"
        body = response.json()
        assert body["items"], params
        assert_is_schema_shape(schema, body)


def test_the_runs_list_answers_its_schemas_shape(filled):
    queries = [{}, {"status": "completed"}, {"status": "failed"}, {"limit": 1, "offset": 1}]
    assert_pages_have_schema_shape(filled, "/runs", RunPageOut, queries)
    kinds = {(run["model_type"], run["status"]) for run in filled.get("/runs").json()["items"]}
    assert {("transfer", "completed"), ("transfer", "failed"), ("upscale", "pending")} <= kinds


def test_the_prompts_list_and_search_answer_their_schemas_shape(filled):
    queries = [{}, {"q": "tram"}, {"q": "qu"}, {"limit": 1, "offset": 1}]
    assert_pages_have_schema_shape(filled, "/prompts", PromptPageOut, queries)
