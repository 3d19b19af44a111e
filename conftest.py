"""Shared fixtures: users alice, bob, staff and an admin.

Settings give each test process its own temporary COSMOS_DATA_DIR (see settings._default_data_dir).
"""

from __future__ import annotations

import asyncio
import os

import pytest

# The sshd on loopback and simulated GPU hosts (see gpu/testing.py).
pytest_plugins = ["gpu.testing"]


@pytest.fixture(autouse=True)
def _pages_wait_for_the_hosts(settings):
    """Pages and /api/status wait 1 s for a host's answer, then say "Asking…": on a loaded
    machine a simulated host can take longer, and a test that reads its GPUs would see the
    question instead. Tests read the answer; the tests of that waiting set the real bound."""
    settings.COSMOS = {**settings.COSMOS, "HOST_STATUS_WAIT_SECONDS": 30}


@pytest.fixture(autouse=True)
def _async_tests_close_their_connection(request):
    """An async test's database reads (database_sync_to_async, the consumers') run in asgiref's
    one thread for such calls; the connection it opens would outlive the test and keep PostgreSQL
    from dropping the test database at the end ("being accessed by other users")."""
    yield
    if request.node.get_closest_marker("asyncio"):
        from channels.db import database_sync_to_async
        from django.db import connections

        asyncio.run(database_sync_to_async(connections.close_all)())


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


# Debian's chromium, driven by Playwright without a browser download. One per test session: a
# second sync_playwright() while the first still runs fails ("Sync API inside the asyncio loop").
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="session")
def chromium():
    """The browser of the browser tests (named apart from pytest-playwright's `browser`)."""
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
