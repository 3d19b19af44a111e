"""Uploaded zips prepared in the background: refused at once when bad, progress and outcome on the job."""

from __future__ import annotations

import zipfile

import pytest
from django.conf import settings
from django_q.conf import Conf

from prompts.errors import InvalidInput, NotFound
from prompts.models import Prompt
from prompts.prepare.models import PreparationJob, PreparationStatus
from prompts.prepare.selectors import preparation_get, preparations_for_user
from prompts.prepare.services import _JobProgress, prepare_options, preparation_run, preparation_start
from prompts.prepare.testing import simple_names, write_sequence, zip_folder  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("simple_names")]


@pytest.fixture
def renders_zip(tmp_path):
    write_sequence(tmp_path / "renders", frames=range(1, 6))
    return zip_folder(tmp_path / "renders", tmp_path / "renders.zip", wrap="shot_020")


def start(user, zip_path, **options) -> PreparationJob:
    with open(zip_path, "rb") as upload:
        return preparation_start(
            user=user, upload=upload, filename=zip_path.name, options=prepare_options(use_ai=False, **options)
        )


def uploads() -> list[str]:
    folder = settings.INPUTS_DIR / "prepared" / ".uploads"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def prepared_entries() -> list[str]:
    folder = settings.INPUTS_DIR / "prepared"
    return sorted(p.name for p in folder.iterdir() if p.name != ".uploads") if folder.exists() else []


def test_an_uploaded_zip_is_kept_and_queued_then_prepared(alice, renders_zip, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        job = start(alice, renders_zip, name="street")
    assert len(callbacks) == 1  # the task is enqueued once the job row is committed
    assert (job.status, job.upload_name, job.owner) == (PreparationStatus.PENDING, "renders.zip", alice)
    assert len(uploads()) == 1

    preparation_run(job_id=job.pk)
    job.refresh_from_db()
    assert (job.status, job.progress, job.stage, job.error) == (PreparationStatus.SUCCEEDED, 100, "", "")
    assert job.finished_at is not None and job.finished
    assert job.output_dir.startswith(str(settings.INPUTS_DIR / "prepared" / "street_"))
    assert job.metadata["frame_count"] == 5 and job.metadata["source"] == "upload renders.zip"
    assert prepared_entries() == [job.output_dir.rsplit("/", 1)[-1]]
    assert uploads() == [], "the upload is removed once the job ends"


def test_the_queued_task_runs_the_job(alice, renders_zip, django_capture_on_commit_callbacks, monkeypatch):
    monkeypatch.setattr(Conf, "SYNC", True)  # django-q2 runs the task in this process
    with django_capture_on_commit_callbacks(execute=True):
        job = start(alice, renders_zip, prompt_text="A tram crossing a square")
    job.refresh_from_db()
    assert job.status == PreparationStatus.SUCCEEDED
    prompt = Prompt.objects.get(pk=job.prompt_id)
    assert prompt.owner == alice and prompt.prompt_text == "A tram crossing a square"


def test_a_zip_with_bad_frames_fails_with_every_problem_and_leaves_nothing(alice, tmp_path):
    write_sequence(tmp_path / "renders", frames=[1, 2, 4], passes=["color", "segmentation"])
    write_sequence(tmp_path / "renders", frames=[1, 2], passes=["depth"])
    job = start(alice, zip_folder(tmp_path / "renders", tmp_path / "bad.zip"))
    preparation_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == PreparationStatus.FAILED and job.finished_at is not None
    assert job.error.startswith("The sequence in bad.zip has 3 problems; fix them and try again:")
    assert job.problems == [
        "color: frame 3 is missing (the pass runs 1-4); render the missing frames or renumber the pass.",
        "segmentation: frame 3 is missing (the pass runs 1-4); render the missing frames or renumber the pass.",
        "depth does not match color: 2 frames against 3; depth lacks frame 4. Every pass needs the same frame numbers.",
    ]
    assert prepared_entries() == [] and uploads() == []


def test_a_failed_job_keeps_the_problem_list(alice, tmp_path):
    write_sequence(tmp_path / "renders", passes=["depth"])
    job = start(alice, zip_folder(tmp_path / "renders", tmp_path / "nocolor.zip"))
    preparation_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == PreparationStatus.FAILED
    assert len(job.problems) == 1 and job.problems[0].startswith("No color pass")
    assert prepared_entries() == [] and uploads() == []


@pytest.mark.parametrize(
    ("entries", "match"),
    [
        ({}, "is empty"),
        ({"../escape.png": b"x"}, "points outside the zip's folder"),
        ({"color.0001.png": bytes(20 * 1024 * 1024)}, "looks like a zip bomb"),
    ],
)
def test_a_bad_zip_is_refused_at_once_and_not_kept(alice, tmp_path, entries, match):
    archive = tmp_path / "bad.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
        for name, data in entries.items():
            zipped.writestr(name, data)
    with pytest.raises(InvalidInput, match=match):
        start(alice, archive)
    assert PreparationJob.objects.count() == 0 and uploads() == []


def test_an_upload_over_the_size_limit_is_refused(alice, renders_zip, settings):
    settings.COSMOS_MAX_UPLOAD_BYTES = 1000
    with pytest.raises(InvalidInput, match="is larger than the"):
        start(alice, renders_zip)
    assert PreparationJob.objects.count() == 0 and uploads() == []


def test_a_job_runs_once(alice, renders_zip):
    job = start(alice, renders_zip)
    preparation_run(job_id=job.pk)
    finished = PreparationJob.objects.get(pk=job.pk)
    preparation_run(job_id=job.pk)  # a second delivery of the same task
    assert PreparationJob.objects.get(pk=job.pk).updated_at == finished.updated_at
    assert len(prepared_entries()) == 1


def test_progress_moves_through_the_stages(alice, renders_zip):
    job = start(alice, renders_zip)
    progress = _JobProgress(job.pk)
    progress("checking frames", 10, 10)
    assert PreparationJob.objects.values_list("stage", "progress").get(pk=job.pk) == ("checking frames", 10)
    progress("encoding", 50, 100)
    assert PreparationJob.objects.values_list("stage", "progress").get(pk=job.pk) == ("encoding", 52)


def test_a_user_sees_their_own_jobs_and_staff_see_all(alice, bob, staff, renders_zip):
    job = start(alice, renders_zip)
    assert preparation_get(user=alice, job_id=job.pk) == job
    assert preparation_get(user=staff, job_id=job.pk) == job
    with pytest.raises(NotFound, match=f"No preparation '{job.pk}'"):
        preparation_get(user=bob, job_id=job.pk)
    assert list(preparations_for_user(user=alice)) == [job]
    assert list(preparations_for_user(user=bob)) == []
    assert list(preparations_for_user(user=staff)) == [job]
