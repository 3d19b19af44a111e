"""Helpers for the JSON API tests: a client that sends a user's bearer token, uploads, the error shape."""

from __future__ import annotations

import json as jsonlib
from pathlib import Path
from urllib.parse import urlencode

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from accounts.tokens import token_create
from prompts.videos import ROLES


class ApiClient:
    """Django's test client speaking to /api as `user`, by bearer token (anonymous when None)."""

    def __init__(self, user=None):
        self.client = Client()
        self.user = user
        self.headers = {}
        if user is not None:
            _, raw = token_create(user=user, name="tests")
            self.headers["Authorization"] = f"Bearer {raw}"

    def _url(self, path: str, params: dict | None) -> str:
        return f"/api{path}" + (f"?{urlencode(params)}" if params else "")

    def get(self, path: str, params: dict | None = None, **headers):
        return self.client.get(self._url(path, params), headers={**self.headers, **headers})

    def head(self, path: str, **headers):
        return self.client.head(self._url(path, None), headers={**self.headers, **headers})

    def post(self, path: str, json=None, *, params: dict | None = None, raw: bytes | None = None, **headers):
        body = raw if raw is not None else (b"" if json is None else jsonlib.dumps(json).encode())
        return self.client.generic(
            "POST", self._url(path, params), body, content_type="application/json",
            headers={**self.headers, **headers},
        )

    def upload(self, path: str, data: dict, **headers):
        return self.client.post(self._url(path, None), data, headers={**self.headers, **headers})

    def delete(self, path: str, params: dict | None = None):
        return self.client.delete(self._url(path, params), headers=self.headers)


def uploads(folder: Path, *roles: str) -> dict[str, SimpleUploadedFile]:
    """The videos of a scene folder as uploaded files (all three roles unless some are named)."""
    return {
        role: SimpleUploadedFile(f"{role}.mp4", (folder / f"{role}.mp4").read_bytes(), content_type="video/mp4")
        for role in roles or ROLES
    }


def assert_error(response, status: int, field: str | None = None) -> dict:
    """The response is an error of the one API shape, with this status (and field)."""
    assert response.status_code == status, response.content
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"]
    if field is not None:
        assert body.get("field") == field, body
    return body
