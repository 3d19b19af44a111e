"""Fixtures of the logs tests."""

import pytest


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # The shared user fixtures hash real passwords; the default hasher costs ~0.5 s per user.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
