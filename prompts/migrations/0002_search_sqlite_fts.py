"""SQLite only: the FTS5 trigram index behind prompt search (see prompts.search). No-op elsewhere."""

from django.db import migrations

from prompts.search import migration_operation


class Migration(migrations.Migration):
    dependencies = [("prompts", "0001_initial")]
    operations = [migration_operation("sqlite")]
