"""Who sees and acts on what: a user their own objects, staff everything. One rule for every app.

Works for any model with an `owner` foreign key (prompts, runs). Anonymous or inactive users see
nothing. Callers that find nothing raise NotFound, so another user's object is never revealed.
"""

from __future__ import annotations

from django.db.models import Model, QuerySet

# No user has this id (database ids start at 1): the scope of someone who may see nothing.
NOBODY = 0


def is_staff(user) -> bool:
    return bool(user and user.is_active and (user.is_staff or user.is_superuser))


def owner_scope(user) -> int | None:
    """The owner id that limits what `user` sees: None for staff (every owner), NOBODY for the anonymous or inactive."""
    if not user or not user.is_authenticated or not user.is_active:
        return NOBODY
    return None if is_staff(user) else user.pk


def visible_to(queryset: QuerySet, user) -> QuerySet:
    """The part of `queryset` that `user` may see."""
    scope = owner_scope(user)
    return queryset if scope is None else queryset.filter(owner_id=scope)


def can_act(user, obj: Model) -> bool:
    """May `user` see and change `obj` (an object with an owner)?"""
    scope = owner_scope(user)
    return scope is None or obj.owner_id == scope
