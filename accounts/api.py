"""`/api/me`: who the caller is (checks a token or session works)."""

from __future__ import annotations

from ninja import Router, Schema

from accounts.auth import api_auth

router = Router(tags=["account"], auth=api_auth)


class MeOut(Schema):
    id: int
    username: str
    is_staff: bool


@router.get("/me", response=MeOut, summary="The authenticated user")
def me(request):
    user = request.auth
    return {"id": user.id, "username": user.username, "is_staff": user.is_staff}
