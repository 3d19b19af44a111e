"""The prompts app: after every migrate, make sure the SQLite search index survived (see prompts.search)."""

from django.apps import AppConfig
from django.db import connections
from django.db.models.signals import post_migrate


def _search_index_ensure(sender, using, **kwargs):
    from prompts.search import ensure_installed

    ensure_installed(connections[using])


class PromptsConfig(AppConfig):
    name = "prompts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        post_migrate.connect(_search_index_ensure, sender=self, dispatch_uid="prompts.search_index_ensure")
