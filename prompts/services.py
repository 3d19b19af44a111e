"""Prompt actions: create, replace the text, rename, refresh the smart name, release unused videos.

Every action validates everything before it writes anything: a refused request leaves no row and
no file behind. Videos are checked with PyAV and stored content-addressed (prompts.videos).

A prompt's id is `ps_` + a hash of its owner, model type, text, negative prompt, input video
hashes and parameters: creating the same prompt twice returns the first one, with
`prompt.was_created` False (and True when the call created it).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django_q.tasks import async_task

from prompts import videos
from prompts.access import can_act
from prompts.errors import InvalidInput, NotAllowed, NotFound
from prompts.inputs import video_dir_files, video_file
from prompts.models import DEFAULT_NEGATIVE_PROMPT, Prompt
from prompts.naming import simple_name, smart_name
from prompts.selectors import model_type_check, prompt_get
from prompts.text import name_clean, prompt_text_clean

SMART_NAME_TASK = "prompts.tasks.prompt_smart_name"


def prompt_create(
    *,
    user,
    prompt_text: str,
    video_dir: str | Path | None = None,
    files: Mapping[str, UploadedFile | Path | str] | None = None,
    name: str = "",
    negative_prompt: str = "",
    model_type: str = "transfer",
    parameters: dict | None = None,
    enhanced_from: Prompt | None = None,
    smart_name_now: bool = False,
) -> Prompt:
    """Create a prompt from text and its control videos; return it (or the identical one that exists).

    Videos come from exactly one of `video_dir` (a server-side folder inside COSMOS_INPUT_ROOTS
    with color.mp4 and optionally depth.mp4, segmentation.mp4) or `files` (role -> upload or
    server-side path; `color` required). With `enhanced_from` and no videos, that prompt's videos
    are reused. Without `name`, the prompt gets a simple name at once and its smart name from a
    background task; `smart_name_now=True` computes the smart name before returning (for the CLI:
    it loads the model, so never in a web request).
    """
    _user_check(user)
    text = prompt_text_clean(prompt_text)
    negative = prompt_text_clean(negative_prompt, field="negative_prompt", required=False) or DEFAULT_NEGATIVE_PROMPT
    model_type = model_type_check(model_type)
    parameters = _parameters_check(parameters)
    chosen_name = name_clean(name) if name else ""
    if enhanced_from is not None and not can_act(user, enhanced_from):
        raise NotFound(f"No prompt {enhanced_from.pk!r}.", field="enhanced_from")
    sources = _video_sources(video_dir=video_dir, files=files, reuse=enhanced_from is not None)

    staged: list[videos.StagedVideo] = []
    try:
        for role, source in sources.items():
            if isinstance(source, UploadedFile):
                staged.append(videos.stage_upload(role, source))
            else:
                staged.append(videos.stage_path(role, source))
        inputs = {item.role: item.info() for item in staged} if staged else dict(enhanced_from.inputs)
        prompt_id = prompt_id_for(
            owner_id=user.pk,
            model_type=model_type,
            prompt_text=text,
            negative_prompt=negative,
            input_hashes={role: info["sha256"] for role, info in inputs.items()},
            parameters=parameters,
        )
        for item in staged:
            videos.copy_ahead(item)
        # Under the lock, the stored files and the row that uses them appear together for any
        # concurrent deletion (see prompt_inputs_release).
        with videos.inputs_lock():
            for item in staged:
                videos.store(item)
            prompt = _insert(
                Prompt(
                    id=prompt_id,
                    owner=user,
                    name=chosen_name or simple_name(text),
                    name_is_auto=not chosen_name,
                    model_type=model_type,
                    prompt_text=text,
                    negative_prompt=negative,
                    inputs=inputs,
                    parameters=parameters,
                    enhanced_from=enhanced_from,
                )
            )
    finally:
        for item in staged:
            videos.discard(item)

    if prompt.was_created and prompt.name_is_auto:
        _smart_name_schedule(prompt, now=smart_name_now)
    return prompt


def prompt_text_replace(*, user, prompt_id: str, prompt_text: str) -> Prompt:
    """Replace the prompt's text (e.g. with its enhanced version); an automatic name follows the text."""
    prompt = prompt_get(user=user, prompt_id=prompt_id)
    text = prompt_text_clean(prompt_text)
    prompt.prompt_text = text
    fields = ["prompt_text", "updated_at"]
    if prompt.name_is_auto:
        prompt.name = simple_name(text)
        fields.append("name")
    prompt.save(update_fields=fields)
    if prompt.name_is_auto:
        _smart_name_schedule(prompt, now=False)
    return prompt


def prompt_rename(*, user, prompt_id: str, name: str) -> Prompt:
    """Give the prompt a name of the user's choosing (no smart name replaces it afterwards)."""
    prompt = prompt_get(user=user, prompt_id=prompt_id)
    cleaned = name_clean(name)
    if not cleaned:
        raise InvalidInput("The name is empty: type a name for the prompt.", field="name")
    prompt.name = cleaned
    prompt.name_is_auto = False
    prompt.save(update_fields=["name", "name_is_auto", "updated_at"])
    return prompt


def prompt_name_refresh(*, prompt_id: str) -> str | None:
    """Compute the smart name and save it if the name is still automatic and the text unchanged.

    A system action (the smart-name task runs it): returns the saved name, or None when the prompt
    is gone, was renamed by its user, or its text changed meanwhile (a newer task follows).
    """
    prompt = Prompt.objects.filter(pk=prompt_id, name_is_auto=True).only("prompt_text").first()
    if prompt is None:
        return None
    name = smart_name(prompt.prompt_text)
    updated = Prompt.objects.filter(pk=prompt_id, name_is_auto=True, prompt_text=prompt.prompt_text).update(
        name=name, updated_at=timezone.now()
    )
    return name if updated else None


def prompt_inputs_release(*, sha256s: set[str]) -> list[str]:
    """Remove the stored videos among `sha256s` that no prompt uses any more; return those removed.

    Call after the transaction that deleted their prompts has committed.
    """
    if not sha256s:
        return []
    removed = []
    with videos.inputs_lock():
        in_use = Q()
        for role in videos.ROLES:
            in_use |= Q(**{f"inputs__{role}__sha256__in": sorted(sha256s)})
        used = set()
        for inputs in Prompt.objects.filter(in_use).values_list("inputs", flat=True):
            used.update(info.get("sha256") for info in inputs.values())
        for sha256 in sorted(sha256s - used):
            if videos.remove_stored(sha256):
                removed.append(sha256)
    return removed


def prompt_id_for(
    *,
    owner_id: int,
    model_type: str,
    prompt_text: str,
    negative_prompt: str,
    input_hashes: dict[str, str],
    parameters: dict,
) -> str:
    """The deterministic id of a prompt with this content and owner."""
    payload = json.dumps(
        [owner_id, model_type, prompt_text, negative_prompt, input_hashes, parameters],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return "ps_" + hashlib.sha256(payload.encode()).hexdigest()[:24]


def _user_check(user) -> None:
    if not user or not user.is_authenticated or not user.is_active:
        raise NotAllowed("Log in to create prompts.")


def _parameters_check(parameters: dict | None) -> dict:
    if parameters is None:
        return {}
    if not isinstance(parameters, dict):
        raise InvalidInput("parameters must be a JSON object (a dict).", field="parameters")
    try:
        # Round-trip: what is hashed into the id is exactly what the database will hold.
        return json.loads(json.dumps(parameters, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"parameters must be plain JSON values: {exc}.", field="parameters") from None


def _video_sources(
    *, video_dir: str | Path | None, files: Mapping | None, reuse: bool
) -> dict[str, UploadedFile | Path]:
    """The videos to stage, by role: uploads as they are, server-side paths confined and resolved."""
    if video_dir is not None and files is not None:
        raise InvalidInput("Give either a video folder or uploaded files, not both.", field="video_dir")
    if video_dir is not None:
        return video_dir_files(video_dir)
    if files is None:
        if reuse:
            return {}
        raise InvalidInput(
            "No input videos: give a video folder holding color.mp4, or upload the color video.", field="color"
        )
    if not isinstance(files, Mapping):
        raise InvalidInput("files must map a role (color, depth, segmentation) to a video.", field="files")
    unknown = sorted(set(files) - set(videos.ROLES))
    if unknown:
        raise InvalidInput(
            f"Unknown video role {unknown[0]!r}: use {', '.join(videos.ROLES)}.", field=str(unknown[0])
        )
    sources: dict[str, UploadedFile | Path] = {}
    for role in videos.ROLES:
        value = files.get(role)
        if value is None:
            continue
        if isinstance(value, UploadedFile):
            sources[role] = value
        elif isinstance(value, (str, Path)):
            sources[role] = video_file(value, role=role)
        else:
            raise InvalidInput(f"The {role} video must be an uploaded file or a path.", field=role)
    if videos.REQUIRED_ROLE not in sources:
        raise InvalidInput("The color video is required (depth and segmentation are optional).", field="color")
    return sources


def _insert(prompt: Prompt) -> Prompt:
    """Save a new prompt, or return the existing one with the same id (was_created False)."""
    existing = Prompt.objects.select_related("owner").filter(pk=prompt.pk).first()
    if existing is None:
        try:
            with transaction.atomic():
                prompt.save(force_insert=True)
            return prompt
        except IntegrityError:
            # Created by someone else between our look and our insert (another machine).
            existing = Prompt.objects.select_related("owner").get(pk=prompt.pk)
    existing.was_created = False
    return existing


def _smart_name_schedule(prompt: Prompt, *, now: bool) -> None:
    if not settings.COSMOS["SMART_NAMES"]:
        return
    if now:
        name = prompt_name_refresh(prompt_id=prompt.pk)
        if name:
            prompt.name = name
        return
    prompt_id = prompt.pk
    transaction.on_commit(lambda: async_task(SMART_NAME_TASK, prompt_id, group="smart-names"))
