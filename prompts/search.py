"""Case-insensitive substring search over prompt text and name, indexed on SQLite and PostgreSQL.

The meaning is the same everywhere: a prompt matches when the query is a substring of its text or
of its name, ignoring case. What differs is the index that answers it:

- SQLite: an FTS5 table with the trigram tokenizer (a quoted phrase of trigrams is exactly a
  substring match). FTS rows are keyed by a small integer table (`prompts_prompt_search_key`),
  because the prompt table's own rowid is not stable across VACUUM (its primary key is text).
  Triggers keep both in step with `prompts_prompt`.
- PostgreSQL: pg_trgm GIN indexes on `UPPER(prompt_text)` and `UPPER(name)`, the very expressions
  Django's `icontains` compares, so the plain ORM filter is index-assisted (admin search too).

Queries shorter than three characters have no trigram and fall back to LIKE on both.

Django rebuilds a SQLite table to alter it, which drops its triggers; `ensure_installed` (run after
every migrate) puts them back and re-indexes when anything was missing or out of step.
"""

from __future__ import annotations

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL

MIN_INDEXED_QUERY = 3

KEY_TABLE = "prompts_prompt_search_key"
FTS_TABLE = "prompts_prompt_fts"
SQLITE_TRIGGERS = ("prompts_prompt_fts_insert", "prompts_prompt_fts_delete", "prompts_prompt_fts_update")

SQLITE_INSTALL = [
    f"""CREATE TABLE IF NOT EXISTS {KEY_TABLE} (
        id INTEGER PRIMARY KEY,
        prompt_id VARCHAR(40) NOT NULL UNIQUE
    )""",
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5(name, prompt_text, tokenize='trigram')",
    f"""CREATE TRIGGER IF NOT EXISTS prompts_prompt_fts_insert AFTER INSERT ON prompts_prompt BEGIN
        INSERT INTO {KEY_TABLE} (prompt_id) VALUES (new.id);
        INSERT INTO {FTS_TABLE} (rowid, name, prompt_text)
            SELECT id, new.name, new.prompt_text FROM {KEY_TABLE} WHERE prompt_id = new.id;
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS prompts_prompt_fts_delete AFTER DELETE ON prompts_prompt BEGIN
        DELETE FROM {FTS_TABLE} WHERE rowid = (SELECT id FROM {KEY_TABLE} WHERE prompt_id = old.id);
        DELETE FROM {KEY_TABLE} WHERE prompt_id = old.id;
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS prompts_prompt_fts_update AFTER UPDATE OF name, prompt_text ON prompts_prompt
    BEGIN
        UPDATE {FTS_TABLE} SET name = new.name, prompt_text = new.prompt_text
            WHERE rowid = (SELECT id FROM {KEY_TABLE} WHERE prompt_id = new.id);
    END""",
]
SQLITE_REINDEX = [
    f"DELETE FROM {FTS_TABLE}",
    f"DELETE FROM {KEY_TABLE}",
    f"INSERT INTO {KEY_TABLE} (prompt_id) SELECT id FROM prompts_prompt",
    f"""INSERT INTO {FTS_TABLE} (rowid, name, prompt_text)
        SELECT k.id, p.name, p.prompt_text FROM {KEY_TABLE} k JOIN prompts_prompt p ON p.id = k.prompt_id""",
]
SQLITE_UNINSTALL = [f"DROP TRIGGER IF EXISTS {name}" for name in SQLITE_TRIGGERS] + [
    f"DROP TABLE IF EXISTS {FTS_TABLE}",
    f"DROP TABLE IF EXISTS {KEY_TABLE}",
]
SQLITE_MATCH = f"""SELECT k.prompt_id FROM {FTS_TABLE} f JOIN {KEY_TABLE} k ON k.id = f.rowid
    WHERE {FTS_TABLE} MATCH %s"""

POSTGRES_INSTALL = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS prompt_text_trgm_idx ON prompts_prompt USING gin (UPPER(prompt_text) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS prompt_name_trgm_idx ON prompts_prompt USING gin (UPPER(name::text) gin_trgm_ops)",
]
POSTGRES_UNINSTALL = ["DROP INDEX IF EXISTS prompt_text_trgm_idx", "DROP INDEX IF EXISTS prompt_name_trgm_idx"]


def prompts_matching(queryset: QuerySet, query: str) -> QuerySet:
    """The prompts of `queryset` whose text or name contains `query`, ignoring case."""
    vendor = connections[queryset.db].vendor
    if vendor == "sqlite" and len(query) >= MIN_INDEXED_QUERY:
        return queryset.filter(pk__in=RawSQL(SQLITE_MATCH, [fts_phrase(query)]))
    return queryset.filter(Q(prompt_text__icontains=query) | Q(name__icontains=query))


def fts_phrase(query: str) -> str:
    """`query` as one FTS5 phrase: quoted, inner quotes doubled, so no character is FTS syntax."""
    return '"' + query.replace('"', '""') + '"'


def install(connection: BaseDatabaseWrapper) -> None:
    """Create the search index for this database (used by migrations)."""
    statements = {"sqlite": SQLITE_INSTALL, "postgresql": POSTGRES_INSTALL}.get(connection.vendor, [])
    _execute(connection, statements)
    if connection.vendor == "sqlite":
        _execute(connection, SQLITE_REINDEX)


def uninstall(connection: BaseDatabaseWrapper) -> None:
    statements = {"sqlite": SQLITE_UNINSTALL, "postgresql": POSTGRES_UNINSTALL}.get(connection.vendor, [])
    _execute(connection, statements)


def ensure_installed(connection: BaseDatabaseWrapper) -> bool:
    """Repair the SQLite index after a table rebuild; True when it had to. No-op elsewhere or before install."""
    if connection.vendor != "sqlite":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT type, name FROM sqlite_master WHERE name IN (%s, %s)", [KEY_TABLE, "prompts_prompt"])
        present = {name for _type, name in cursor.fetchall()}
        if present != {KEY_TABLE, "prompts_prompt"}:
            return False  # not migrated that far (or migrated back): nothing to repair
        cursor.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name IN (%s, %s, %s)", list(SQLITE_TRIGGERS)
        )
        triggers_ok = cursor.fetchone()[0] == len(SQLITE_TRIGGERS)
        cursor.execute(f"SELECT (SELECT count(*) FROM {KEY_TABLE}) = (SELECT count(*) FROM prompts_prompt)")
        counts_ok = bool(cursor.fetchone()[0])
    if triggers_ok and counts_ok:
        return False
    install(connection)
    return True


def _execute(connection: BaseDatabaseWrapper, statements: list[str]) -> None:
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
