"""PostgreSQL only: pg_trgm GIN indexes behind prompt search (see prompts.search). No-op elsewhere."""

from django.db import migrations


def install(apps, schema_editor):
    from prompts import search

    if schema_editor.connection.vendor == "postgresql":
        search.install(schema_editor.connection)


def uninstall(apps, schema_editor):
    from prompts import search

    if schema_editor.connection.vendor == "postgresql":
        search.uninstall(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("prompts", "0002_search_sqlite_fts")]
    operations = [migrations.RunPython(install, uninstall, elidable=False)]
