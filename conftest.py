"""Shared fixtures: users alice, bob, staff and an admin.

Settings give each test process its own temporary COSMOS_DATA_DIR (see settings._default_data_dir).
"""

from __future__ import annotations

import pytest

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
