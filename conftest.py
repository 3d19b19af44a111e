"""Shared fixtures: an isolated data dir per test session, users alice, bob and staff."""

from __future__ import annotations

import os
import tempfile

# Before Django reads its settings: tests never touch the developer's ./var.
os.environ.setdefault("COSMOS_DATA_DIR", tempfile.mkdtemp(prefix="cosmos-test-"))
os.environ.setdefault("COSMOS_SMART_NAMES", "1")

import pytest  # noqa: E402

# The sshd on loopback and simulated GPU hosts (see gpu/testing.py).
pytest_plugins = ["gpu.testing"]


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user(username="alice", password="alice-pass-123")


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user(username="bob", password="bob-pass-123")


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user(username="sam", password="sam-pass-123", is_staff=True)


@pytest.fixture
def admin_user(django_user_model):
    return django_user_model.objects.create_superuser(username="root", password="root-pass-123")
