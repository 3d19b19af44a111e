"""Sections other apps add to a prompt's page, so `prompts` shows them without importing those apps.

`runs` registers the inference form and the prompt's runs (in its AppConfig.ready); the prompt
detail view renders every registered section, in registration order, into its slot.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest

from prompts.models import Prompt

# A section renders itself to HTML for one prompt and one request.
Section = Callable[[HttpRequest, Prompt], str]
SLOTS = ("actions", "related")
_sections: dict[str, list[Section]] = {slot: [] for slot in SLOTS}


def prompt_page_section(slot: str) -> Callable[[Section], Section]:
    """Decorator: add a section to `slot` ("actions" beside the inputs, "related" below them)."""
    if slot not in SLOTS:
        raise ValueError(f"unknown prompt page slot {slot!r}; use one of {SLOTS}")

    def register(section: Section) -> Section:
        if section not in _sections[slot]:
            _sections[slot].append(section)
        return section

    return register


def prompt_page_sections(request: HttpRequest, prompt: Prompt) -> dict[str, list[str]]:
    return {slot: [section(request, prompt) for section in sections] for slot, sections in _sections.items()}
