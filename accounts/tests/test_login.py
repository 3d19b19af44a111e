"""Every page needs a login; the login page itself answers."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_login_page_answers(client):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert b'name="password"' in response.content


def test_pages_redirect_anonymous_to_login(client):
    response = client.get("/accounts/profile/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_login_with_password(client, alice):
    response = client.post("/accounts/login/", {"username": "alice", "password": "alice-pass-123"})
    assert response.status_code == 302
    assert client.get("/accounts/profile/").status_code == 200


def test_wrong_password_is_refused_with_a_message(client, alice):
    response = client.post("/accounts/login/", {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert b"didn't match" in response.content
