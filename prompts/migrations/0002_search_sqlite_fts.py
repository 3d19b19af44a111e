"""SQLite only: the FTS5 trigram index behind prompt search (see prompts.search). No-op elsewhere."""

from django.db import migrations


def install(apps, schema_editor):
    from prompts import search

    if schema_editor.connection.vendor == "sqlite":
        search.install(schema_editor.connection)


def uninstall(apps, schema_editor):
    from prompts import search

    if schema_editor.connection.vendor == "sqlite":
        search.uninstall(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("prompts", "0001_initial")]
    operations = [migrations.RunPython(install, uninstall, elidable=False)]
