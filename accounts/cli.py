"""`cosmos token create|list|revoke`: personal API tokens from the command line."""

from __future__ import annotations

from django.core.management.base import CommandError
from rich.table import Table

from accounts.tokens import TokenError, token_create, token_revoke, tokens_for_user


def _token_dict(token) -> dict:
    return {
        "id": token.id,
        "name": token.name,
        "prefix": token.prefix,
        "created_at": token.created_at.isoformat(),
        "last_used_at": token.last_used_at.isoformat() if token.last_used_at else None,
        "revoked": token.revoked_at is not None,
    }


def _create(ctx, options):
    try:
        token, raw = token_create(user=ctx.user, name=options["name"])
    except TokenError as exc:
        raise CommandError(exc.message) from exc
    if options["json"]:
        ctx.json({**_token_dict(token), "token": raw})
        return
    ctx.print(f"Created token {token.id} ({token.name}) for {ctx.user.username}:")
    ctx.print(raw)
    ctx.print("Keep it now: it is not shown again. Use it as 'Authorization: Bearer <token>'.")


def _list(ctx, options):
    tokens = tokens_for_user(user=ctx.user)
    if options["json"]:
        ctx.json([_token_dict(t) for t in tokens])
        return
    table = Table(title=f"API tokens of {ctx.user.username}")
    for column in ("id", "name", "starts with", "created", "last used", "state"):
        table.add_column(column)
    for t in tokens:
        table.add_row(
            str(t.id),
            t.name,
            t.prefix + "…",
            f"{t.created_at:%Y-%m-%d %H:%M}",
            f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never",
            "[red]revoked[/]" if t.revoked_at else "[green]active[/]",
        )
    ctx.print(table)


def _revoke(ctx, options):
    try:
        token = token_revoke(user=ctx.user, token_id=options["token_id"])
    except TokenError as exc:
        raise CommandError(exc.message) from exc
    if options["json"]:
        ctx.json(_token_dict(token))
    else:
        ctx.print(f"Revoked token {token.id} ({token.name}).")


def register(cli) -> None:
    group = {"group": "token", "group_help": "personal API tokens"}
    p = cli.command("create", _create, help="create an API token (shown once)", **group)
    p.add_argument("--name", required=True, help="what the token is for, e.g. 'laptop'")
    p.add_argument("--json", action="store_true")
    p = cli.command("list", _list, help="list your API tokens", **group)
    p.add_argument("--json", action="store_true")
    p = cli.command("revoke", _revoke, help="revoke an API token by id", **group)
    p.add_argument("token_id", type=int, metavar="TOKEN_ID")
    p.add_argument("--json", action="store_true")
