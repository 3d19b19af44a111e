"""Template filters for prompt text: search matches highlighted, long text cut around the match."""

from __future__ import annotations

import re

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

SNIPPET_CHARS = 180


def _pattern(query: str) -> re.Pattern | None:
    query = (query or "").strip()
    return re.compile(re.escape(query), re.IGNORECASE) if query else None


@register.filter
def highlight(text: str, query: str) -> SafeString:
    """`text` HTML-escaped, each case-insensitive occurrence of `query` wrapped in <mark>."""
    text = text or ""
    pattern = _pattern(query)
    if pattern is None:
        return escape(text)
    parts, last = [], 0
    for match in pattern.finditer(text):
        parts.append(escape(text[last : match.start()]))
        parts.append(f"<mark>{escape(match.group())}</mark>")
        last = match.end()
    parts.append(escape(text[last:]))
    return mark_safe("".join(parts))


@register.filter
def snippet(text: str, query: str = "") -> str:
    """At most SNIPPET_CHARS of `text`, centred on the first match of `query` when there is one."""
    text = " ".join((text or "").split())
    if len(text) <= SNIPPET_CHARS:
        return text
    pattern = _pattern(query)
    match = pattern.search(text) if pattern else None
    start = 0 if match is None else max(0, match.start() - SNIPPET_CHARS // 3)
    end = min(len(text), start + SNIPPET_CHARS)
    start = max(0, end - SNIPPET_CHARS)
    return ("…" if start else "") + text[start:end] + ("…" if end < len(text) else "")
