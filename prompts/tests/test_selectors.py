"""Reading prompts: a user sees their own, staff see all, and nobody learns another user's prompt exists."""

from __future__ import annotations

import json

import pytest

from prompts.errors import NotFound
from prompts.selectors import prompt_get, prompt_input_paths, prompt_to_dict, prompts_list

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("bad_id", ["", "nope", "ps_", "ps_../../etc", "rs_0123", "ps_" + "a" * 60, None, 42])
def test_malformed_prompt_ids_are_not_found(alice, bad_id):
    with pytest.raises(NotFound, match="No prompt"):
        prompt_get(user=alice, prompt_id=bad_id)


def test_unknown_and_other_users_prompts_look_the_same(alice, bob, make_prompt):
    bobs = make_prompt(bob)
    with pytest.raises(NotFound) as unknown:
        prompt_get(user=alice, prompt_id="ps_000000000000000000000000")
    with pytest.raises(NotFound) as hidden:
        prompt_get(user=alice, prompt_id=bobs.id)
    assert hidden.value.message == unknown.value.message.replace("ps_000000000000000000000000", bobs.id)
    assert prompt_get(user=bob, prompt_id=bobs.id) == bobs


def test_staff_see_everyones_prompts(alice, bob, staff, admin_user, make_prompt):
    alices, bobs = make_prompt(alice), make_prompt(bob)
    for viewer in (staff, admin_user):
        assert prompt_get(user=viewer, prompt_id=alices.id) == alices
        assert {p.id for p in prompts_list(user=viewer).items} == {alices.id, bobs.id}
    assert {p.id for p in prompts_list(user=alice).items} == {alices.id}
    assert {p.id for p in prompts_list(user=bob).items} == {bobs.id}


def test_inactive_users_see_nothing(alice, make_prompt):
    prompt = make_prompt(alice)
    alice.is_active = False
    alice.save()
    assert prompts_list(user=alice).total == 0
    with pytest.raises(NotFound):
        prompt_get(user=alice, prompt_id=prompt.id)


def test_list_filters_by_model_type_and_pages(alice, make_prompt):
    made = [make_prompt(alice) for _ in range(5)]
    enhanced = make_prompt(alice, model_type="enhance")
    page = prompts_list(user=alice, model_type="transfer", limit=2, offset=2)
    assert (page.total, page.limit, page.offset, len(page.items)) == (5, 2, 2, 2)
    assert {p.id for p in page.items} <= {p.id for p in made}
    assert [p.id for p in prompts_list(user=alice, model_type="enhance").items] == [enhanced.id]


def test_prompt_dict_is_json_and_stable(alice, make_prompt):
    prompt = make_prompt(alice, "A futuristic city at night", parameters={"seed": 7})
    data = json.loads(json.dumps(prompt_to_dict(prompt)))
    assert list(data) == [
        "id", "name", "name_is_auto", "owner", "model_type", "prompt_text", "negative_prompt",
        "inputs", "parameters", "enhanced_from", "created_at", "updated_at",
    ]
    assert data["owner"] == "alice" and data["parameters"] == {"seed": 7}
    assert set(data["inputs"]["color"]) == {"path", "sha256", "size", "width", "height", "fps", "frames", "codec", "duration"}


def test_input_paths_point_at_the_stored_videos(alice, make_prompt, scene_dir):
    paths = prompt_input_paths(make_prompt(alice))
    assert set(paths) == {"color", "depth", "segmentation"}
    assert paths["depth"].read_bytes() == (scene_dir / "depth.mp4").read_bytes()


def test_a_long_list_counts_to_the_cap_then_says_at_least(alice, bob):
    from prompts.models import Prompt
    from prompts.paging import LIST_COUNT_CAP

    many = LIST_COUNT_CAP + 30
    Prompt.objects.bulk_create(
        Prompt(id=f"ps_l{i:05d}", owner=alice if i % 2 else bob, prompt_text=f"street {i}") for i in range(2 * many)
    )
    first = prompts_list(user=alice, limit=50)
    assert (first.total, first.total_exact, first.has_next) == (LIST_COUNT_CAP, False, True)
    from prompts.selectors import prompts_list_as_dicts

    for offset in (0, LIST_COUNT_CAP, many - 20, many + 100):
        rows, models = prompts_list_as_dicts(user=alice, offset=offset), prompts_list(user=alice, offset=offset)
        assert (rows.total, rows.total_exact, len(rows.items)) == (models.total, models.total_exact, len(models.items))
    # A page past the cap counts to its own end, and the last one is exact.
    deep = prompts_list(user=alice, limit=10, offset=LIST_COUNT_CAP)
    assert (deep.total, deep.total_exact, deep.has_next) == (LIST_COUNT_CAP + 10, False, True)
    last = prompts_list(user=alice, limit=50, offset=many - 20)
    assert (len(last.items), last.total, last.total_exact, last.has_next) == (20, many, True, False)
    beyond = prompts_list(user=alice, limit=50, offset=many + 100)
    assert (beyond.items, beyond.total, beyond.total_exact) == ([], many, True)
    # Exactly one full page with nothing after it: exact, no next page.
    exact = prompts_list(user=alice, limit=10, offset=many - 10)
    assert (exact.total, exact.total_exact, exact.has_next) == (many, True, False)


def test_pages_of_prompt_dicts_are_prompt_to_dict_of_each_prompt(alice, bob, staff, make_prompt):
    from prompts.selectors import prompts_list_as_dicts, prompts_search, prompts_search_as_dicts

    first = make_prompt(alice, "A neon city at night", name="neon_city")
    make_prompt(alice, "A forest", model_type="enhance", enhanced_from=first, parameters={"seed": 3})
    make_prompt(bob, "Bob's neon alley")
    for user, model_type in ((alice, None), (staff, None), (staff, "enhance"), (bob, "enhance")):
        dicts = prompts_list_as_dicts(user=user, model_type=model_type)
        models = prompts_list(user=user, model_type=model_type)
        assert dicts.items == [prompt_to_dict(prompt) for prompt in models.items]
        assert dicts.total == models.total
        for query in ("neon", "ne"):
            found = prompts_search_as_dicts(user=user, query=query, model_type=model_type)
            assert found.items == [prompt_to_dict(p) for p in prompts_search(user=user, query=query, model_type=model_type).items]
    assert [p["id"] for p in prompts_search_as_dicts(user=alice, query="NEON").items] == [first.id]
    assert list(prompts_list_as_dicts(user=alice).items[0]) == list(prompt_to_dict(first))
