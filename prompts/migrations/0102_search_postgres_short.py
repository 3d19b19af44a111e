"""PostgreSQL only: the narrow upper-cased copy that queries shorter than a trigram read (see
prompts.search). No-op elsewhere."""

from django.db import migrations

from prompts.search import short_search_migration_operation


class Migration(migrations.Migration):
    dependencies = [("prompts", "0101_merge_0003_search_postgres_trgm_0100_preparationjob")]
    operations = [short_search_migration_operation()]
