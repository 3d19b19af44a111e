"""schemathesis over /api/openapi.json, in-process (WSGI) with a bearer token: no 5xx, and every
response is documented (status code, content type, headers) and matches its schema.

Every built-in check runs except `positive_data_acceptance`: it expects every schema-valid request
to succeed, but what the schema cannot say is refused with a 4xx by design (a file that does not
decode as video, weights that are all zero, an id that exists in no table).

Examples are bounded and derandomized so the run is repeatable and short. The token's user owns
a prompt and a completed run with files, and the ids of both are among the generated values, so
the fuzzer reaches real objects as well as unknown ones.
"""

from __future__ import annotations

import shutil

import pytest
import schemathesis
from schemathesis.specs.openapi.checks import positive_data_acceptance
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings

from accounts.tokens import token_create
from prompts.services import prompt_create
from prompts.testing import scene_dir  # noqa: F401 (fixture)
from runs.models import Run, RunStatus
from runs.selectors import run_output_dir

EXAMPLES = 12

schema = schemathesis.openapi.from_wsgi("/api/openapi.json", get_wsgi_application())


@pytest.fixture
def same_connection():
    """Keep the test's database connection (and transaction) across WSGI requests, as Django's
    test client does: the handler would otherwise close it after each request."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def fuzz_auth(django_user_model, scene_dir, same_connection):  # noqa: F811
    """A user with a prompt and a completed run (output video, log); their token as a header."""
    user, _ = django_user_model.objects.get_or_create(username="fuzzer")
    prompt = prompt_create(user=user, prompt_text="A bright city at night", video_dir=scene_dir)
    run, created = Run.objects.get_or_create(
        id="rs_fuzz", defaults={"prompt": prompt, "owner": user, "status": RunStatus.COMPLETED}
    )
    if created:
        folder = run_output_dir(run)
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(scene_dir / "color.mp4", folder / "output.mp4")
        (folder / "execution.log").write_text("line one\nline two\n")
    _, raw = token_create(user=user, name="fuzz")
    return {"Authorization": f"Bearer {raw}"}


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_answers_every_request_as_documented(case, fuzz_auth):
    case.call_and_validate(headers=fuzz_auth, excluded_checks=[positive_data_acceptance])
