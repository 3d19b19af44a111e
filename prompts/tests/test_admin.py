"""The admin: staff only; there staff see and act on every prompt, through the services."""

from __future__ import annotations

import pytest
from django.contrib.admin.utils import quote
from django.urls import reverse

from prompts.models import Prompt

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:prompts_prompt_changelist")


def change_url(prompt):
    return reverse("admin:prompts_prompt_change", args=[quote(prompt.pk)])


def test_a_non_staff_user_cannot_enter_the_admin_at_all(client, alice, bob, make_prompt):
    mine, theirs = make_prompt(alice), make_prompt(bob)
    client.force_login(alice)
    for url in (CHANGELIST, change_url(mine), change_url(theirs), reverse("admin:index")):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))
    assert theirs.id not in client.get(CHANGELIST, follow=True).content.decode()


@pytest.mark.parametrize("viewer", ["staff", "admin_user"])
def test_staff_see_every_users_prompts(client, alice, bob, make_prompt, viewer, request):
    mine, theirs = make_prompt(alice, "Alice's harbour"), make_prompt(bob, "Bob's desert")
    client.force_login(request.getfixturevalue(viewer))
    page = client.get(CHANGELIST).content.decode()
    assert mine.id in page and theirs.id in page
    detail = client.get(change_url(theirs))
    assert detail.status_code == 200 and "Bob&#x27;s desert" in detail.content.decode()


def test_admin_search_uses_the_prompt_search(client, staff, alice, make_prompt):
    harbour, desert = make_prompt(alice, "A HARBOUR at dusk"), make_prompt(alice, "A desert road")
    client.force_login(staff)
    page = client.get(CHANGELIST, {"q": "harbour"}).content.decode()
    assert harbour.id in page and desert.id not in page
    assert desert.id in client.get(CHANGELIST, {"q": desert.id}).content.decode()


def test_staff_rename_goes_through_the_service(client, staff, alice, make_prompt):
    prompt = make_prompt(alice)
    client.force_login(staff)
    response = client.post(change_url(prompt), {"name": "  harbour\x1b study ", "runs-TOTAL_FORMS": "0", "runs-INITIAL_FORMS": "0"})
    assert response.status_code == 302, response.content.decode()[:2000]
    prompt.refresh_from_db()
    assert (prompt.name, prompt.name_is_auto) == ("harbour study", False)
    bad = client.post(change_url(prompt), {"name": "x" * 101, "runs-TOTAL_FORMS": "0", "runs-INITIAL_FORMS": "0"})
    assert bad.status_code == 200 and "at most 100 characters" in bad.content.decode()


def test_prompts_are_not_added_in_the_admin(client, staff):
    client.force_login(staff)
    assert client.get(reverse("admin:prompts_prompt_add")).status_code == 403
    assert Prompt.objects.count() == 0
