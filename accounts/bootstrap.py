"""The first start: create an admin when there is no user at all, and say its password once."""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.db import transaction


def first_admin_ensure(*, username: str = "admin") -> tuple[str, str] | None:
    """Create a superuser if the database has no users; return (username, password) or None."""
    User = get_user_model()
    with transaction.atomic():
        if User.objects.exists():
            return None
        password = secrets.token_urlsafe(12)
        User.objects.create_superuser(username=username, email="", password=password)
    return username, password
