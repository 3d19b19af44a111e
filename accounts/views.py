"""The profile page: who you are, and your API tokens (create shows the value once; revoke)."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.tokens import TokenError, token_create, token_revoke, tokens_for_user


@require_http_methods(["GET"])
def profile(request):
    return render(request, "accounts/profile.html", {"tokens": tokens_for_user(user=request.user)})


@require_POST
def token_create_view(request):
    try:
        token, raw = token_create(user=request.user, name=request.POST.get("name", ""))
    except TokenError as exc:
        messages.error(request, exc.message)
        return redirect("accounts:profile")
    # Rendered once, never stored in the session or a message that could be logged.
    return render(
        request,
        "accounts/profile.html",
        {"tokens": tokens_for_user(user=request.user), "new_token": token, "new_token_value": raw},
    )


@require_POST
def token_revoke_view(request, token_id: int):
    try:
        token = token_revoke(user=request.user, token_id=token_id)
    except TokenError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Revoked token “{token.name}”.")
    return redirect("accounts:profile")
