"""Helpers every page of ours shares: a domain error as a 404 or a message, and pagination.

Pages of `prompts` and `runs` use them (runs may import prompts; the reverse is not allowed).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.contrib import messages
from django.http import Http404, HttpRequest

from prompts.errors import DomainError, NotFound

T = TypeVar("T")
PAGE_SIZE = 25


def get_or_404(selector: Callable[..., T], **kwargs: Any) -> T:
    """Call a `*_get` selector; an unknown, malformed or invisible id is a 404 (never revealed)."""
    try:
        return selector(**kwargs)
    except NotFound as exc:
        raise Http404(exc.message) from exc


def attempt(request: HttpRequest, action: Callable[..., T], **kwargs: Any) -> T | None:
    """Run a service action; a domain error becomes an error message and None (never a 500)."""
    try:
        return action(**kwargs)
    except DomainError as exc:
        messages.error(request, exc.message)
        return None


def page_number(request: HttpRequest) -> int:
    """The 1-based `?page=` of a list; anything that is not a positive number means page 1."""
    try:
        return max(1, int(request.GET.get("page", "1")))
    except ValueError:
        return 1


@dataclass(frozen=True)
class Pager:
    """What the pager template shows for a selector's Page (items, total, limit, offset)."""

    number: int
    num_pages: int | None  # None when the total is only a lower bound (a capped search count)
    total: int
    total_exact: bool
    first_item: int
    last_item: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def previous_number(self) -> int:
        return self.number - 1

    @property
    def next_number(self) -> int:
        return self.number + 1

    @property
    def total_label(self) -> str:
        return f"{self.total:,}" if self.total_exact else f"{self.total:,}+"


def pager_for(page, number: int) -> Pager:
    shown = len(page.items)
    exact = getattr(page, "total_exact", True)
    return Pager(
        number=number,
        num_pages=max(1, math.ceil(page.total / page.limit)) if exact else None,
        total=page.total,
        total_exact=exact,
        first_item=page.offset + 1 if shown else 0,
        last_item=page.offset + shown,
        has_next=page.has_next,
    )


def offset_for(number: int, size: int = PAGE_SIZE) -> int:
    return (number - 1) * size
