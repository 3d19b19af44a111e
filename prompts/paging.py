"""One page of results: what every list and search returns, and the limits a caller may ask for."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from django.db.models import QuerySet

from prompts.errors import InvalidInput

T = TypeVar("T")
MAX_LIMIT = 500


@dataclass(frozen=True)
class Page(Generic[T]):
    """`items` from `offset`; `total` matches, exact unless `total_exact` is False (then: at least)."""

    items: list[T]
    total: int
    limit: int
    offset: int
    total_exact: bool = True

    @property
    def has_next(self) -> bool:
        return not self.total_exact or self.offset + len(self.items) < self.total

    def to_dict(self, item_to_dict: Callable[[T], dict]) -> dict:
        """The page as JSON-ready data: {"items": [...], "total", "total_exact", "limit", "offset"}."""
        return {
            "items": [item_to_dict(item) for item in self.items],
            "total": self.total,
            "total_exact": self.total_exact,
            "limit": self.limit,
            "offset": self.offset,
        }


def page_check(limit: int, offset: int) -> None:
    if not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}; got {limit!r}.", field="limit")
    if not isinstance(offset, int) or offset < 0:
        raise InvalidInput(f"offset must be 0 or more; got {offset!r}.", field="offset")


def count_ceiling(*, limit: int, offset: int, cap: int) -> int:
    """How far a capped count must go: `cap`, or further when the page itself lies beyond it."""
    return max(cap, offset + limit)


def paginate(queryset: QuerySet, *, limit: int, offset: int) -> Page:
    """The page of `queryset` at `offset`, with the exact total number of rows."""
    page_check(limit, offset)
    items = list(queryset[offset : offset + limit])
    if offset == 0 and len(items) < limit:
        total = len(items)  # the whole result is on this page: no COUNT needed
    else:
        total = queryset.order_by().count()
    return Page(items=items, total=total, limit=limit, offset=offset)
