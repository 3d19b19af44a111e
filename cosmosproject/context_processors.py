"""Template context shared by every page: which part of the site the page belongs to (for the nav)."""

from __future__ import annotations

# First path segment -> nav entry; the log viewer belongs to runs.
_SECTIONS = {"prompts": "prompts", "runs": "runs", "logs": "runs", "hosts": "hosts", "accounts": "profile"}


def nav_section(request) -> dict:
    first = request.path.strip("/").split("/", 1)[0]
    return {"nav_section": "dashboard" if not first else _SECTIONS.get(first, "")}
