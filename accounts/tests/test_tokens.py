"""API tokens: created once-visible, stored hashed, revocable, usable as bearer auth — and private."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import ApiToken
from accounts.tokens import TokenError, token_create, token_revoke, user_for_token

pytestmark = pytest.mark.django_db


def test_token_is_stored_only_as_a_hash(alice):
    token, raw = token_create(user=alice, name="laptop")
    assert raw.startswith("cwt_") and len(raw) > 40
    stored = ApiToken.objects.get(pk=token.pk)
    assert raw not in (stored.key_hash, stored.prefix) and stored.key_hash != raw
    assert user_for_token(raw) == alice


def test_revoked_or_unknown_token_authenticates_nobody(alice):
    token, raw = token_create(user=alice, name="laptop")
    token_revoke(user=alice, token_id=token.pk)
    assert user_for_token(raw) is None
    assert user_for_token("cwt_not-a-token") is None
    assert user_for_token("") is None


def test_token_of_inactive_user_is_refused(alice):
    _, raw = token_create(user=alice, name="laptop")
    alice.is_active = False
    alice.save()
    assert user_for_token(raw) is None


def test_token_use_is_recorded_at_most_once_a_minute_and_gives_the_whole_user(alice, bob):
    token, raw = token_create(user=alice, name="laptop")
    token_create(user=bob, name="laptop")
    user = user_for_token(raw)
    assert (user.pk, user.username, user.is_staff, user.date_joined) == (alice.pk, "alice", False, alice.date_joined)
    first_use = ApiToken.objects.get(pk=token.pk).last_used_at
    assert first_use is not None
    user_for_token(raw)
    assert ApiToken.objects.get(pk=token.pk).last_used_at == first_use  # within the minute: no write
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first_use - timedelta(minutes=2))
    user_for_token(raw)
    assert ApiToken.objects.get(pk=token.pk).last_used_at > first_use
    assert ApiToken.objects.exclude(pk=token.pk).get().last_used_at is None  # bob's is untouched


def test_bob_cannot_revoke_alices_token(alice, bob):
    token, raw = token_create(user=alice, name="laptop")
    with pytest.raises(TokenError):
        token_revoke(user=bob, token_id=token.pk)
    assert user_for_token(raw) == alice


def test_staff_can_revoke_anyones_token(alice, staff):
    token, raw = token_create(user=alice, name="laptop")
    token_revoke(user=staff, token_id=token.pk)
    assert user_for_token(raw) is None


def test_token_needs_a_name(alice):
    with pytest.raises(TokenError, match="name"):
        token_create(user=alice, name="   ")
    assert not ApiToken.objects.exists()


def test_api_me_with_bearer_token(client, alice):
    _, raw = token_create(user=alice, name="script")
    response = client.get("/api/me", headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 200
    assert response.json()["username"] == "alice"


def test_api_without_credentials_is_401(client):
    response = client.get("/api/me")
    assert response.status_code == 401
    assert "Bearer" in response.json()["detail"]
    assert client.get("/api/me", headers={"Authorization": "Bearer cwt_wrong"}).status_code == 401


def test_api_with_session(client, alice):
    client.force_login(alice)
    assert client.get("/api/me").json()["username"] == "alice"


def test_cli_create_list_revoke(alice, capsys):
    call_command("cosmos", "token", "create", "--name", "ci", "--user", "alice", "--json")
    created = json.loads(capsys.readouterr().out)
    assert user_for_token(created["token"]) == alice
    call_command("cosmos", "token", "list", "--user", "alice", "--json")
    listed = json.loads(capsys.readouterr().out)
    assert [t["name"] for t in listed] == ["ci"] and "token" not in listed[0]
    call_command("cosmos", "token", "revoke", str(created["id"]), "--user", "alice")
    assert user_for_token(created["token"]) is None


def test_cli_bob_cannot_revoke_alices_token(alice, bob):
    token, raw = token_create(user=alice, name="laptop")
    with pytest.raises(CommandError, match="No token"):
        call_command("cosmos", "token", "revoke", str(token.pk), "--user", "bob")
    assert user_for_token(raw) == alice


def test_profile_page_creates_and_shows_token_once(client, alice):
    client.force_login(alice)
    response = client.post("/accounts/profile/tokens/", {"name": "notebook"})
    assert response.status_code == 200
    raw = response.context["new_token_value"]
    assert raw.encode() in response.content
    assert user_for_token(raw) == alice
    again = client.get("/accounts/profile/")
    assert raw.encode() not in again.content and b"notebook" in again.content


def test_profile_page_bob_cannot_revoke_alices_token(client, alice, bob):
    token, raw = token_create(user=alice, name="laptop")
    client.force_login(bob)
    client.post(f"/accounts/profile/tokens/{token.pk}/revoke/")
    assert user_for_token(raw) == alice
    client.force_login(alice)
    client.post(f"/accounts/profile/tokens/{token.pk}/revoke/")
    assert user_for_token(raw) is None


def test_admin_add_token_shows_value_once(client, admin_user, alice):
    client.force_login(admin_user)
    response = client.post("/admin/accounts/apitoken/add/", {"user": alice.pk, "name": "from-admin"}, follow=True)
    assert response.status_code == 200
    token = ApiToken.objects.get(name="from-admin")
    shown = [str(m) for m in response.context["messages"]]
    raw = next(word for m in shown for word in m.split() if word.startswith("cwt_"))
    assert user_for_token(raw) == alice and token.user == alice
