"""`verify`: database and files compared; `--fix` removes orphans and marks broken runs, saying so.

Each test has its own inputs/ and outputs/ (prompts.testing.isolated_storage), so files of other
tests never show up here as orphans."""

import os
import time

import pytest
from django.conf import settings

from prompts.selectors import prompt_input_paths
from runs import services
from runs.models import Run, RunStatus
from runs.outputs import manifest_write
from runs.selectors import run_output_dir


@pytest.fixture
def completed(alice, make_prompt):
    [run] = services.inference_submit(user=alice, prompt_ids=[make_prompt(alice).id]).runs
    folder = run_output_dir(run)
    folder.mkdir(parents=True)
    (folder / "output.mp4").write_bytes(b"video bytes")
    (folder / "output.txt").write_text("a prompt\n")
    manifest_write(folder)
    Run.objects.filter(pk=run.pk).update(status=RunStatus.COMPLETED)
    return run


def kinds(report):
    return [(finding.kind, finding.subject) for finding in report.findings]


def test_a_consistent_store_verifies_clean(staff, completed):
    report = services.integrity_verify(user=staff)
    assert report.ok and report.checked_runs == 1 and report.checked_prompts == 1


def test_a_changed_output_is_a_checksum_mismatch_and_fix_marks_the_run_failed(staff, completed):
    (run_output_dir(completed) / "output.txt").write_text("a prompt, edited\n")
    report = services.integrity_verify(user=staff)
    assert kinds(report) == [("checksum_mismatch", completed.id)]
    assert Run.objects.get(pk=completed.pk).status == RunStatus.COMPLETED  # verify alone changes nothing
    report = services.integrity_verify(user=staff, fix=True)
    assert report.findings[0].fixed == "marked failed"
    run = Run.objects.get(pk=completed.pk)
    assert run.status == RunStatus.FAILED and run.failure_reason == "integrity"


def test_a_missing_output_is_reported(staff, completed):
    (run_output_dir(completed) / "output.mp4").unlink()
    assert kinds(services.integrity_verify(user=staff)) == [("missing_output", completed.id)]


def test_an_output_folder_without_a_run_is_removed_by_fix(staff, db):
    orphan = settings.OUTPUTS_DIR / "run_rs_deadbeef"
    orphan.mkdir(parents=True)
    (orphan / "output.mp4").write_bytes(b"x")
    batch = settings.OUTPUTS_DIR / "batch_gone_20240101_000000"
    batch.mkdir()
    report = services.integrity_verify(user=staff, fix=True)
    assert sorted(kinds(report)) == [
        ("orphan_folder", "outputs/batch_gone_20240101_000000"),
        ("orphan_folder", "outputs/run_rs_deadbeef"),
    ]
    assert not orphan.exists() and not batch.exists()


def test_a_prompt_whose_video_is_gone_is_reported_not_touched(staff, alice, make_prompt):
    prompt = make_prompt(alice)
    path = prompt_input_paths(prompt)["depth"]
    path.rename(path.with_suffix(".bak"))
    try:
        report = services.integrity_verify(user=staff, fix=True)
        assert ("missing_input", prompt.id) in kinds(report)
    finally:
        path.with_suffix(".bak").rename(path)
    assert prompt.__class__.objects.filter(pk=prompt.pk).exists()


def test_an_old_input_no_prompt_uses_is_removed_by_fix(staff, db):
    settings.INPUTS_DIR.mkdir(parents=True, exist_ok=True)
    stray = settings.INPUTS_DIR / f"{'ab' * 32}.mp4"
    stray.write_bytes(b"x")
    fresh = settings.INPUTS_DIR / f"{'cd' * 32}.mp4"
    fresh.write_bytes(b"y")  # may belong to a prompt being created right now
    old = time.time() - 7200
    os.utime(stray, (old, old))
    report = services.integrity_verify(user=staff, fix=True)
    assert [(f.kind, f.fixed) for f in report.findings if f.kind == "orphan_input"] == [("orphan_input", "removed")]
    assert not stray.exists() and fresh.exists()
    fresh.unlink()


# ---- the staff page: the worker checks, the page shows the report -------------------------------


def test_staff_check_and_fix_from_the_page(client, staff, completed, monkeypatch):
    monkeypatch.setattr("django_q.conf.Conf.SYNC", True)  # the worker's task runs inline
    (run_output_dir(completed) / "output.txt").write_text("a prompt, edited\n")
    client.force_login(staff)
    response = client.post("/hosts/integrity/")
    assert response.status_code == 302 and "?task=" in response["Location"]
    page = client.get(response["Location"]).content.decode()
    assert "1 finding" in page and "checksum_mismatch" in page and completed.id in page
    assert 'hx-trigger="every 2s"' not in page  # finished: the page stops polling
    assert Run.objects.get(pk=completed.pk).status == RunStatus.COMPLETED
    page = client.get(client.post("/hosts/integrity/", {"fix": "1"})["Location"]).content.decode()
    assert "check and fix" in page and "marked failed" in page
    assert Run.objects.get(pk=completed.pk).status == RunStatus.FAILED


def test_a_check_not_finished_yet_makes_the_page_poll(client, staff):
    client.force_login(staff)
    page = client.get("/hosts/integrity/", {"task": "f" * 32}).content.decode()
    assert 'hx-trigger="every 2s"' in page and "The worker is checking" in page


def test_alice_cannot_check_or_see_reports(client, alice, completed, monkeypatch):
    from django_q.models import OrmQ, Task

    monkeypatch.setattr("django_q.conf.Conf.SYNC", True)
    client.force_login(alice)
    for response in (client.get("/hosts/integrity/"), client.post("/hosts/integrity/", {"fix": "1"})):
        assert response.status_code == 302 and response["Location"] == "/hosts/"
    assert "Only staff may verify" in client.get("/hosts/").content.decode()
    assert not Task.objects.exists() and not OrmQ.objects.exists()
