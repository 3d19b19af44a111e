"""Authentication for the JSON API: a bearer token, or the browser's session (with CSRF)."""

from __future__ import annotations

from ninja.security import HttpBearer, SessionAuth

from accounts.tokens import user_for_token


class BearerTokenAuth(HttpBearer):
    def authenticate(self, request, token: str):
        user = user_for_token(token)
        if user is not None:
            # Code below the API reads request.user, whatever the way in.
            request.user = user
        return user


# Tried in order: scripts send a token; the browser's pages send their session cookie + CSRF.
api_auth = [BearerTokenAuth(), SessionAuth()]
