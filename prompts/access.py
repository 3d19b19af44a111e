"""Who sees and acts on what: a user their own objects, staff everything. One rule for every app.

Works for any model with an `owner` foreign key (prompts, runs). Anonymous or inactive users see
nothing. Callers that find nothing raise NotFound, so another user's object is never revealed.
"""

from __future__ import annotations

from django.db.models import Model, QuerySet


def is_staff(user) -> bool:
    return bool(user and user.is_active and (user.is_staff or user.is_superuser))


def visible_to(queryset: QuerySet, user) -> QuerySet:
    """The part of `queryset` that `user` may see."""
    if not user or not user.is_authenticated or not user.is_active:
        return queryset.none()
    if is_staff(user):
        return queryset
    return queryset.filter(owner_id=user.pk)


def can_act(user, obj: Model) -> bool:
    """May `user` see and change `obj` (an object with an owner)?"""
    if not user or not user.is_authenticated or not user.is_active:
        return False
    return is_staff(user) or obj.owner_id == user.pk
