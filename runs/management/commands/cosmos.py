"""`manage.py cosmos ...`: the seed's CLI, assembled from each app's `cli.py`.

Each app that offers commands has a module `<app>/cli.py` with `register(cli)`, where `cli` is a
`CliRegistry`. Handlers receive a `CommandContext` (acting user, console, JSON output) and the
parsed options; they call services/selectors only. Domain errors become one clear line on stderr
and a non-zero exit.
"""

from __future__ import annotations

import argparse
import importlib
import json
from collections.abc import Callable
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from rich.console import Console

from gpu.errors import GPUError
from prompts.errors import DomainError
from prompts.inputs import shell_access

# Apps whose `cli.py` contributes subcommands, in the order their commands are listed.
CLI_MODULES = ("prompts.cli", "prompts.prepare_cli", "gpu.cli", "runs.cli", "runs.run_cli", "accounts.cli")


class CommandContext:
    """What a handler needs: who acts, where to write, and how to write JSON."""

    def __init__(self, command: BaseCommand, options: dict[str, Any]):
        self.command = command
        self.options = options
        self.console = Console(file=command.stdout, highlight=False, soft_wrap=True)
        self._user = None

    @property
    def user(self):
        """The user named by --user, or the only superuser when --user is not given."""
        if self._user is None:
            self._user = resolve_user(self.options.get("user"))
        return self._user

    def json(self, data: Any) -> None:
        self.command.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False))

    def print(self, *objects: Any, **kwargs: Any) -> None:
        self.console.print(*objects, **kwargs)


def resolve_user(username: str | None):
    User = get_user_model()
    if username:
        try:
            return User.objects.get(username=username)
        except User.DoesNotExist:
            raise CommandError(f"No user named {username!r}. Create one in the admin or with createsuperuser.")
    superusers = list(User.objects.filter(is_superuser=True, is_active=True)[:2])
    if len(superusers) == 1:
        return superusers[0]
    if not superusers:
        raise CommandError("No superuser exists yet: pass --user NAME, or start the app once to create one.")
    raise CommandError("More than one superuser exists: say who acts with --user NAME.")


class CliRegistry:
    """Collects subcommands (`cosmos NAME` or `cosmos GROUP NAME`) from the apps' cli modules."""

    def __init__(self, subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser):
        self._subparsers = subparsers
        self._common = common
        self._groups: dict[str, argparse._SubParsersAction] = {}

    def command(
        self,
        name: str,
        handler: Callable[[CommandContext, dict[str, Any]], None],
        *,
        help: str,
        group: str | None = None,
        group_help: str = "",
    ) -> argparse.ArgumentParser:
        target = self._group(group, group_help) if group else self._subparsers
        parser = target.add_parser(name, help=help, description=help, parents=[self._common])
        parser.set_defaults(handler=handler)
        return parser

    def _group(self, name: str, help: str) -> argparse._SubParsersAction:
        if name not in self._groups:
            parser = self._subparsers.add_parser(name, help=help or f"{name} commands")
            self._groups[name] = parser.add_subparsers(dest=f"{name}_command", required=True, metavar="WHAT")
        return self._groups[name]


class Command(BaseCommand):
    help = "Cosmos Workflow: prompts, runs and GPU hosts from the command line."

    def add_arguments(self, parser):
        common = argparse.ArgumentParser(add_help=False)
        common.add_argument("--user", metavar="NAME", help="act as this user (default: the only superuser)")
        subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
        registry = CliRegistry(subparsers, common)
        for module_name in CLI_MODULES:
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as exc:
                if exc.name != module_name:
                    raise
                continue
            module.register(registry)

    def handle(self, *args, **options):
        context = CommandContext(self, options)
        try:
            with shell_access():  # the caller is the machine's own user: no input roots
                options["handler"](context, options)
        except (DomainError, GPUError) as exc:
            raise CommandError(exc.message) from exc
