"""Prompt reads for every entry point: get, list, search, and the stable dict shape of a prompt.

Every read takes the acting user and returns only what that user may see (prompts.access). An id
that is malformed, unknown, or another user's gives the same NotFound.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from prompts.access import owner_scope, visible_to
from prompts.errors import InvalidInput, NotFound
from prompts.models import ModelType, Prompt
from prompts.paging import Page, page_check, paginate
from prompts.search import search_ids
from prompts.videos import stored_path

PROMPT_ID = re.compile(r"^ps_[A-Za-z0-9_-]{1,37}$")
MAX_QUERY_CHARS = 500


def prompt_get(*, user, prompt_id: str) -> Prompt:
    """The prompt with this id if `user` may see it; NotFound otherwise."""
    if not isinstance(prompt_id, str) or not PROMPT_ID.match(prompt_id):
        raise NotFound(f"No prompt {prompt_id!r}: prompt ids look like ps_1a2b3c….", field="prompt_id")
    try:
        return visible_to(Prompt.objects.select_related("owner"), user).get(pk=prompt_id)
    except Prompt.DoesNotExist:
        raise NotFound(f"No prompt {prompt_id!r}.", field="prompt_id") from None


def prompts_list(*, user, model_type: str | None = None, limit: int = 50, offset: int = 0) -> Page[Prompt]:
    """The user's visible prompts, newest first."""
    return paginate(_visible(user, model_type), limit=limit, offset=offset)


def prompts_list_as_dicts(*, user, model_type: str | None = None, limit: int = 50, offset: int = 0) -> Page[dict]:
    """The page of `prompts_list`, each prompt as `prompt_to_dict` shapes it, read as plain rows
    (no model instances: 50 prompts 2.8 -> 1.6 ms of CPU), for the API."""
    prompts = _visible(user, model_type)
    # Counted by creation time, which the list's indexes hold: counting ids read every row (2 -> 0.3 ms).
    counted = prompts.values("created_at")
    page = paginate(prompts.values(*_PROMPT_JSON.values()), limit=limit, offset=offset, counted=counted)
    return replace(page, items=[_prompt_json(row.__getitem__) for row in page.items])


def prompts_search(
    *, user, query: str, model_type: str | None = None, limit: int = 50, offset: int = 0
) -> Page[Prompt]:
    """Visible prompts whose text or name contains `query` (case-insensitive), newest first.

    The total is exact up to prompts.search.SEARCH_COUNT_CAP matches, a lower bound past it.
    """
    found = _search_ids(user=user, query=query, model_type=model_type, limit=limit, offset=offset)
    by_id = Prompt.objects.select_related("owner").in_bulk(found.items)
    return replace(found, items=[by_id[pk] for pk in found.items if pk in by_id])


def prompts_search_as_dicts(
    *, user, query: str, model_type: str | None = None, limit: int = 50, offset: int = 0
) -> Page[dict]:
    """The page of `prompts_search` as `prompt_to_dict`'s dicts, read as plain rows."""
    found = _search_ids(user=user, query=query, model_type=model_type, limit=limit, offset=offset)
    rows = Prompt.objects.filter(pk__in=found.items).values(*_PROMPT_JSON.values())
    by_id = {row["id"]: _prompt_json(row.__getitem__) for row in rows}
    return replace(found, items=[by_id[pk] for pk in found.items if pk in by_id])


def _search_ids(*, user, query: str, model_type: str | None, limit: int, offset: int) -> Page[str]:
    query = query.strip() if isinstance(query, str) else ""
    if not query:
        raise InvalidInput("The search query is empty: type some words to look for.", field="query")
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidInput(f"The search query is longer than {MAX_QUERY_CHARS} characters.", field="query")
    page_check(limit, offset)
    if model_type:
        model_type_check(model_type)
    return search_ids(query=query, owner_id=owner_scope(user), model_type=model_type, limit=limit, offset=offset)


def model_type_check(model_type: str) -> str:
    """`model_type` if it is one we know; InvalidInput listing the known ones otherwise."""
    if model_type not in ModelType.values:
        raise InvalidInput(
            f"Unknown model type {model_type!r}: use one of {', '.join(ModelType.values)}.", field="model_type"
        )
    return model_type


def prompt_input_paths(prompt: Prompt) -> dict[str, Path]:
    """Where each input video of the prompt is stored, by role (color, depth, segmentation)."""
    return {role: stored_path(info["sha256"]) for role, info in prompt.inputs.items()}


# The JSON shape of a prompt (CLI --json, API): each key and the field it is read from, by the
# ORM path that reaches it. One table for a Prompt's attributes (prompt_to_dict) and for the plain
# rows of a list (prompts_list_as_dicts, prompts_search_as_dicts).
_PROMPT_JSON = {
    "id": "id",
    "name": "name",
    "name_is_auto": "name_is_auto",
    "owner": "owner__username",
    "model_type": "model_type",
    "prompt_text": "prompt_text",
    "negative_prompt": "negative_prompt",
    "inputs": "inputs",
    "parameters": "parameters",
    "enhanced_from": "enhanced_from_id",
    "created_at": "created_at",
    "updated_at": "updated_at",
}


def prompt_to_dict(prompt: Prompt) -> dict:
    """The prompt as JSON-ready data; the shape is stable (CLI --json, API)."""
    return _prompt_json(lambda path: field_value(prompt, path))


def _prompt_json(value) -> dict:
    data = {key: value(path) for key, path in _PROMPT_JSON.items()}
    data["created_at"] = data["created_at"].isoformat()
    data["updated_at"] = data["updated_at"].isoformat()
    return data


def field_value(obj, path: str):
    """`obj.owner.username` for the ORM path "owner__username"; None past an empty relation."""
    for name in path.split("__"):
        if obj is None:
            return None
        obj = getattr(obj, name)
    return obj


def _visible(user, model_type: str | None):
    queryset = visible_to(Prompt.objects.select_related("owner"), user)
    if model_type:
        queryset = queryset.filter(model_type=model_type_check(model_type))
    return queryset.order_by("-created_at", "id")
