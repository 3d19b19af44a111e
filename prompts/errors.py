"""Domain errors raised by the service layers.

Entry points map them to their own form: a 404/403 page, an HTTP 404/403/409/422 JSON answer,
or a CommandError. `runs` raises these too (it may import `prompts`; the reverse is not allowed).
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error a user can cause; `message` is safe to show as it is."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(DomainError):
    """No such object, or one the acting user may not see (never reveal that it exists)."""


class NotAllowed(DomainError):
    """The user may see the object but not do this to it (e.g. a staff-only action)."""


class InvalidInput(DomainError):
    """The request itself is wrong; `field` names the offending field when there is one."""


class Conflict(DomainError):
    """The request is valid but the current state forbids it (e.g. deleting a busy prompt)."""
