"""Run admin and a prompt's runs inline: staff only, read-only runs, deletes through the services."""

from __future__ import annotations

import re

import pytest
from django.contrib.admin.utils import quote
from django.urls import reverse

from prompts.models import Prompt
from runs.models import Run, RunStatus
from runs.selectors import run_output_dir

pytestmark = pytest.mark.django_db

RUNS = reverse("admin:runs_run_changelist")


def add_run(prompt, status=RunStatus.COMPLETED):
    return Run.objects.create(prompt=prompt, owner=prompt.owner, status=status)


def test_only_staff_see_runs_in_the_admin(client, alice, bob, staff, make_prompt):
    alices, bobs = add_run(make_prompt(alice)), add_run(make_prompt(bob))
    client.force_login(alice)
    assert client.get(RUNS).status_code == 302
    client.force_login(staff)
    page = client.get(RUNS).content.decode()
    assert alices.id in page and bobs.id in page
    assert client.get(RUNS, {"status__exact": "completed", "q": bobs.id}).content.decode().count(bobs.id) >= 1


def test_run_list_links_to_its_prompt(client, staff, alice):
    # "_26" would be read by the admin as an escaped "&" if the link were not quoted.
    prompt = Prompt.objects.create(id="ps_26ab", owner=alice, prompt_text="A city")
    add_run(prompt)
    client.force_login(staff)
    page = client.get(RUNS).content.decode()
    link = re.search(r'href="(/admin/prompts/prompt/[^"]+)"', page).group(1)
    assert client.get(link).status_code == 200


def test_prompt_page_lists_its_runs(client, staff, alice, make_prompt):
    prompt = make_prompt(alice)
    run = add_run(prompt, RunStatus.FAILED)
    client.force_login(staff)
    page = client.get(reverse("admin:prompts_prompt_change", args=[quote(prompt.pk)])).content.decode()
    assert run.id in page and "failed" in page


def test_runs_are_read_only(client, staff, alice, make_prompt):
    run = add_run(make_prompt(alice))
    client.force_login(staff)
    url = reverse("admin:runs_run_change", args=[quote(run.pk)])
    assert client.get(url).status_code == 200
    client.post(url, {"status": "pending"})
    run.refresh_from_db()
    assert run.status == "completed"


def test_staff_delete_a_prompt_with_its_runs_and_files(client, staff, alice, make_prompt, django_capture_on_commit_callbacks):
    prompt = make_prompt(alice)
    run = add_run(prompt)
    run_output_dir(run).mkdir(parents=True)
    client.force_login(staff)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:prompts_prompt_delete", args=[quote(prompt.pk)]), {"post": "yes"})
    assert response.status_code == 302
    assert not Prompt.objects.exists() and not Run.objects.exists() and not run_output_dir(run).exists()


def test_busy_prompts_and_runs_cannot_be_deleted_in_the_admin(client, staff, alice, make_prompt):
    prompt = make_prompt(alice)
    run = add_run(prompt, RunStatus.RUNNING)
    client.force_login(staff)
    assert client.get(reverse("admin:prompts_prompt_delete", args=[quote(prompt.pk)])).status_code == 403
    assert client.get(reverse("admin:runs_run_delete", args=[quote(run.pk)])).status_code == 403
    response = client.post(
        reverse("admin:prompts_prompt_changelist"),
        {"action": "delete_selected", "_selected_action": [prompt.pk], "post": "yes"},
        follow=True,
    )
    assert response.status_code in (200, 403)
    assert Prompt.objects.filter(pk=prompt.pk).exists() and Run.objects.filter(pk=run.pk).exists()
