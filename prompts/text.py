"""Cleaning user text: control characters out, limits checked, the same rules everywhere."""

from __future__ import annotations

import unicodedata

from prompts.errors import InvalidInput

MAX_PROMPT_CHARS = 10_000
MAX_NAME_CHARS = 100
# Newlines and tabs are layout a user typed on purpose; every other control character (NUL, escape
# sequences, bell, carriage return) only ever arrives by accident or with bad intent.
_KEPT_CONTROLS = {"\n", "\t"}


def clean_text(value: str) -> str:
    """`value` without control characters other than newline and tab, CRLF as LF, outer space trimmed."""
    value = value.replace("\r\n", "\n")
    return "".join(
        ch for ch in value if ch in _KEPT_CONTROLS or unicodedata.category(ch) != "Cc"
    ).strip()


def prompt_text_clean(value: object, *, field: str = "prompt_text", required: bool = True) -> str:
    """Clean prompt-like text and enforce its limits; raise InvalidInput saying what to fix."""
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be text.", field=field)
    text = clean_text(value)
    if required and not text:
        raise InvalidInput(
            f"{field} is empty (after removing control characters): write what the video should show.",
            field=field,
        )
    if len(text) > MAX_PROMPT_CHARS:
        raise InvalidInput(
            f"{field} has {len(text):,} characters; the limit is {MAX_PROMPT_CHARS:,}. Shorten it.", field=field
        )
    return text


def name_clean(value: object) -> str:
    """A user-chosen prompt name: one line of text, at most MAX_NAME_CHARS."""
    if not isinstance(value, str):
        raise InvalidInput("name must be text.", field="name")
    name = " ".join(clean_text(value).split())
    if len(name) > MAX_NAME_CHARS:
        raise InvalidInput(
            f"name has {len(name)} characters; the limit is {MAX_NAME_CHARS}. Shorten it.", field="name"
        )
    return name
