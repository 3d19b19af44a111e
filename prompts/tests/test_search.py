"""Search means case-insensitive substring over text and name, on every database, whatever the index.

Each query's answer is compared with Python's own `q.lower() in text.lower()` over the same rows.
Runs on SQLite (FTS5 trigram) and, with DATABASE_URL, on PostgreSQL (pg_trgm).
"""

from __future__ import annotations

import itertools

import pytest
from django.db import connection

from prompts import search
from prompts.errors import InvalidInput
from prompts.models import Prompt
from prompts.selectors import prompts_list, prompts_search
from prompts.services import prompt_rename, prompt_text_replace

pytestmark = pytest.mark.django_db

_ids = itertools.count()

CORPUS = [
    ("A futuristic City at night", "city_night"),
    ("neon-lit streets in the rain", "neon_streets"),
    ("CAFÉ terrace at dawn", "terrace"),
    ("un café au lait", "cafe"),
    ('a quote "inside" the text', "quoted"),
    ("100% organic fields of wheat", "wheat"),
    ("a*b star and NEAR(things) OR AND NOT", "operators"),
    ("multi\nline\ttext with tabs", "Sunset_Ocean"),
    ("Underwater reef, fish swimming", "under_score"),
    ("Snowy mountains", "CITYSCAPE"),
]

QUERIES = [
    "city", "CITY", "ty a", "neon-lit", "café", "CAFÉ", "é t", '"inside"', 'quote "', "100%", "0% o",
    "a*b", "NEAR(", "OR AND", "under_", "ocean", "line\ttext", "reef, fish", "night", "nothing-like-this",
    # shorter than 3 characters: the LIKE fallback
    "ci", "c", "%", "_", '"', "Z",
]


def add(owner, text, name="", model_type="transfer"):
    return Prompt.objects.create(
        id=f"ps_t{next(_ids)}", owner=owner, prompt_text=text, name=name, model_type=model_type
    )


def expected(prompts, query):
    q = query.lower()
    return {p.id for p in prompts if q in p.prompt_text.lower() or q in p.name.lower()}


@pytest.fixture
def corpus(alice):
    return [add(alice, text, name) for text, name in CORPUS]


@pytest.mark.parametrize("query", QUERIES)
def test_search_is_case_insensitive_substring_over_text_and_name(alice, corpus, query):
    page = prompts_search(user=alice, query=query, limit=500)
    assert {p.id for p in page.items} == expected(corpus, query)
    assert page.total == len(page.items)


def test_results_are_newest_first_and_paged_with_an_exact_total(alice):
    made = [add(alice, f"street scene {i}") for i in range(7)]
    add(alice, "unrelated")
    first = prompts_search(user=alice, query="street", limit=3)
    second = prompts_search(user=alice, query="street", limit=3, offset=3)
    last = prompts_search(user=alice, query="street", limit=3, offset=6)
    newest_first = [p.id for p in sorted(made, key=lambda p: (-p.created_at.timestamp(), p.id))]
    assert [p.id for p in first.items + second.items + last.items] == newest_first
    assert (first.total, second.total, last.total) == (7, 7, 7)
    assert first.has_next and not last.has_next


def test_search_sees_only_what_the_user_may_see(alice, bob, staff):
    mine, theirs = add(alice, "alice's city"), add(bob, "bob's city")
    assert {p.id for p in prompts_search(user=alice, query="city").items} == {mine.id}
    assert {p.id for p in prompts_search(user=bob, query="city").items} == {theirs.id}
    assert {p.id for p in prompts_search(user=staff, query="city").items} == {mine.id, theirs.id}
    assert {p.id for p in prompts_search(user=bob, query="ci").items} == {theirs.id}


def test_search_filters_by_model_type(alice):
    transfer, enhance = add(alice, "a city"), add(alice, "a city, enhanced", model_type="enhance")
    assert {p.id for p in prompts_search(user=alice, query="city", model_type="enhance").items} == {enhance.id}
    assert transfer.id in {p.id for p in prompts_search(user=alice, query="city").items}
    with pytest.raises(InvalidInput, match="Unknown model type"):
        prompts_search(user=alice, query="city", model_type="nope")


def test_index_follows_renames_text_changes_and_deletes(alice, settings):
    settings.COSMOS = {**settings.COSMOS, "SMART_NAMES": False}
    prompt = add(alice, "A desert road", "road")
    prompt_rename(user=alice, prompt_id=prompt.id, name="Mirage")
    assert [p.id for p in prompts_search(user=alice, query="mirage").items] == [prompt.id]
    assert prompts_search(user=alice, query="road").total == 1  # still in the text
    prompt_text_replace(user=alice, prompt_id=prompt.id, prompt_text="A frozen lake")
    assert prompts_search(user=alice, query="desert").total == 0
    assert prompts_search(user=alice, query="frozen").total == 1
    Prompt.objects.filter(pk=prompt.id).delete()
    assert prompts_search(user=alice, query="frozen").total == 0
    assert prompts_search(user=alice, query="mirage").total == 0


@pytest.mark.parametrize("query", ["STREET", "St"])  # the trigram index, and the LIKE of a short query
def test_past_the_count_cap_pages_stay_right_and_the_total_is_a_lower_bound(alice, bob, staff, query):
    rows = [
        Prompt(id=f"ps_many{i:05d}", owner=alice if i % 3 else bob, prompt_text=f"Street {i} at dusk",
               model_type="enhance" if i % 7 == 0 else "transfer")
        for i in range(search.SEARCH_COUNT_CAP + 60)
    ]
    Prompt.objects.bulk_create(rows)
    for user, model_type in ((staff, None), (alice, None), (staff, "enhance")):
        expected_order = list(
            visible(user).filter(prompt_text__icontains=query, **({"model_type": model_type} if model_type else {}))
            .order_by("-created_at", "id").values_list("id", flat=True)
        )
        seen = []
        for offset in range(0, len(expected_order) + 200, 200):
            page = prompts_search(user=user, query=query, model_type=model_type, limit=200, offset=offset)
            seen += [p.id for p in page.items]
            if len(expected_order) > search.SEARCH_COUNT_CAP and offset + 200 <= search.SEARCH_COUNT_CAP:
                assert (page.total, page.total_exact, page.has_next) == (search.SEARCH_COUNT_CAP, False, True)
        assert seen == expected_order
        last = prompts_search(user=user, query=query.lower(), model_type=model_type, limit=200, offset=len(expected_order) - 1)
        assert (last.total, last.total_exact, last.has_next) == (len(expected_order), True, False)


def test_index_follows_owner_and_model_type_changes(alice, bob):
    prompt = add(alice, "A glacier")
    Prompt.objects.filter(pk=prompt.pk).update(owner=bob, model_type="enhance")
    assert prompts_search(user=alice, query="glacier").total == 0
    assert [p.id for p in prompts_search(user=bob, query="glacier", model_type="enhance").items] == [prompt.id]


def visible(user):
    from prompts.access import visible_to

    return visible_to(Prompt.objects.all(), user)


@pytest.mark.parametrize("query", ["", "   ", "x" * 501])
def test_empty_or_huge_queries_are_refused(alice, query):
    with pytest.raises(InvalidInput, match="search query"):
        prompts_search(user=alice, query=query)


def test_bad_paging_is_refused(alice):
    with pytest.raises(InvalidInput, match="limit must be between 1 and 500"):
        prompts_list(user=alice, limit=0)
    with pytest.raises(InvalidInput, match="offset must be 0 or more"):
        prompts_search(user=alice, query="city", offset=-1)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite keeps its search index with triggers")
def test_sqlite_index_is_repaired_after_a_table_rebuild_drops_its_triggers(alice, corpus):
    # Django alters a SQLite table by rebuilding it, which drops the table's triggers.
    with connection.cursor() as cursor:
        for trigger in search.SQLITE_TRIGGERS:
            cursor.execute(f"DROP TRIGGER {trigger}")
    late = add(alice, "added while the triggers were gone: a lighthouse")
    assert prompts_search(user=alice, query="lighthouse").total == 0
    assert search.ensure_installed(connection) is True
    assert [p.id for p in prompts_search(user=alice, query="lighthouse").items] == [late.id]
    assert {p.id for p in prompts_search(user=alice, query="city").items} == expected([*corpus, late], "city")
    assert search.ensure_installed(connection) is False  # healthy: nothing to do


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL searches with pg_trgm indexes")
def test_postgres_search_uses_the_trigram_indexes(alice, corpus):
    queryset = search.prompts_matching(Prompt.objects.order_by(), "terrace")
    with connection.cursor() as cursor:
        # A table this small would be read whole otherwise; the bench shows the plan at 100k rows.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        sql, params = queryset.query.sql_with_params()
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "prompt_text_trgm_idx" in plan and "prompt_name_trgm_idx" in plan


def _short_copy() -> dict[str, tuple]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT prompt_id, owner_id, model_type, text FROM {search.SHORT_TABLE}")
        return {row[0]: row[1:] for row in cursor.fetchall()}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's narrow copy for short queries")
def test_postgres_short_queries_read_a_narrow_copy_kept_in_step(alice, bob, settings):
    settings.COSMOS = {**settings.COSMOS, "SMART_NAMES": False}
    prompt = add(alice, "A désert road", "Road")
    assert _short_copy() == {prompt.id: (alice.pk, "transfer", "ROAD\x1fA DÉSERT ROAD")}
    assert [p.id for p in prompts_search(user=alice, query="És").items] == [prompt.id]

    prompt_rename(user=alice, prompt_id=prompt.id, name="Mirage")
    prompt_text_replace(user=alice, prompt_id=prompt.id, prompt_text="A frozen lake")
    Prompt.objects.filter(pk=prompt.pk).update(owner=bob, model_type="enhance")
    assert _short_copy() == {prompt.id: (bob.pk, "enhance", "MIRAGE\x1fA FROZEN LAKE")}
    assert prompts_search(user=alice, query="ze").total == 0
    assert [p.id for p in prompts_search(user=bob, query="ze", model_type="enhance").items] == [prompt.id]
    assert prompts_search(user=bob, query="eA").total == 0  # name and text are not one string

    Prompt.objects.filter(pk=prompt.pk).delete()
    assert _short_copy() == {}
    add(alice, "kept?")
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # this test's transaction still holds deferred checks
        cursor.execute("TRUNCATE prompts_prompt CASCADE")  # as Django's test flush does
    assert _short_copy() == {}
