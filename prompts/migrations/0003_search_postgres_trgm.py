"""PostgreSQL only: pg_trgm GIN indexes behind prompt search (see prompts.search). No-op elsewhere."""

from django.db import migrations

from prompts.search import migration_operation


class Migration(migrations.Migration):
    dependencies = [("prompts", "0002_search_sqlite_fts")]
    operations = [migration_operation("postgresql")]
