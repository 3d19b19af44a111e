"""Creating a prompt from a zip of PNG sequences in the browser's forms: upload, progress, the
prompt at the end; a bad zip refused at once; another user's preparation never shown."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from prompts.models import Prompt
from prompts.prepare.models import PreparationJob, PreparationStatus
from prompts.prepare.services import preparation_run
from prompts.prepare.testing import write_sequence, zip_folder

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true", "HX-Target": "preparation"}


@pytest.fixture
def sequence_zip(tmp_path):
    folder = write_sequence(tmp_path / "shot", frames=range(1, 5))
    return zip_folder(folder, tmp_path / "shot.zip", wrap="shot")


def upload(client, path, **fields):
    data = {"prompt_text": "A square slides over a gradient", "fit": "pad", "fps": "24", **fields,
            "zip": SimpleUploadedFile(path.name, path.read_bytes(), "application/zip")}
    return client.post("/prompts/prepare/", data)


def test_the_create_page_offers_the_zip_form(client, alice):
    client.force_login(alice)
    page = client.get("/prompts/new/").content.decode()
    assert 'action="/prompts/prepare/"' in page and 'name="zip"' in page


def test_a_zip_becomes_a_prompt_and_the_page_follows_it(client, alice, sequence_zip):
    client.force_login(alice)
    response = upload(client, sequence_zip, name="slide")
    job = PreparationJob.objects.get()
    assert response["Location"] == f"/prompts/prepare/{job.id}/"
    page = client.get(response["Location"]).content.decode()
    assert "shot.zip" in page and 'hx-trigger="every 1s"' in page

    preparation_run(job_id=job.id)  # what the worker does

    poll = client.get(f"/prompts/prepare/{job.id}/", headers=HTMX)
    prompt = Prompt.objects.get(owner=alice)
    assert poll["HX-Redirect"] == f"/prompts/{prompt.id}/"
    assert set(prompt.inputs) == {"color", "depth", "segmentation"}


def test_a_failed_preparation_says_why_and_stops_polling(client, alice, tmp_path):
    folder = write_sequence(tmp_path / "gappy", frames=[1, 2, 4])
    client.force_login(alice)
    upload(client, zip_folder(folder, tmp_path / "gappy.zip"))
    job = PreparationJob.objects.get()
    preparation_run(job_id=job.id)
    poll = client.get(f"/prompts/prepare/{job.id}/", headers=HTMX)
    assert poll.status_code == 286
    job.refresh_from_db()
    assert job.status == PreparationStatus.FAILED
    assert "3" in poll.content.decode()  # the missing frame number is named
    assert not Prompt.objects.exists()


def test_a_file_that_is_not_a_zip_is_refused_at_once(client, alice, tmp_path):
    bad = tmp_path / "frames.zip"
    bad.write_bytes(b"these are not the frames you are looking for")
    client.force_login(alice)
    response = upload(client, bad)
    assert response.status_code == 422
    assert "zip" in response.content.decode().lower()
    assert not PreparationJob.objects.exists()


def test_bad_options_are_refused_with_the_field(client, alice, sequence_zip):
    client.force_login(alice)
    response = upload(client, sequence_zip, fps="500")
    assert response.status_code == 422 and "fps" in response.content.decode()
    assert not PreparationJob.objects.exists()


def test_bob_cannot_follow_alices_preparation(client, alice, bob, sequence_zip):
    client.force_login(alice)
    upload(client, sequence_zip)
    job = PreparationJob.objects.get()
    client.force_login(bob)
    assert client.get(f"/prompts/prepare/{job.id}/").status_code == 404
    assert client.get(f"/prompts/prepare/{job.id}/", headers=HTMX).status_code == 404
