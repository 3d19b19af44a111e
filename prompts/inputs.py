"""Which server-side files may become prompt inputs: inside COSMOS_INPUT_ROOTS, no `..`, no symlink escapes.

The roots guard what web and API users (who are not users of this machine) can make the server
read. The command line runs as the machine's own user, who can read any of these files anyway:
inside `shell_access()` any existing folder is accepted, as the seed's CLI did.

A server-side video folder holds `color.mp4` (required) and optionally `depth.mp4` and
`segmentation.mp4`. Paths are resolved (symlinks followed) before they are compared with the
roots, so a link that points outside a root is refused like the outside path itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from django.conf import settings

from prompts.errors import InvalidInput
from prompts.videos import REQUIRED_ROLE, ROLES


_shell_access: ContextVar[bool] = ContextVar("cosmos_inputs_shell_access", default=False)


@contextmanager
def shell_access() -> Iterator[None]:
    """Inputs may come from anywhere the calling process can read: for the command line only."""
    token = _shell_access.set(True)
    try:
        yield
    finally:
        _shell_access.reset(token)


def allowed_roots() -> list[Path]:
    return [Path(root).resolve() for root in settings.COSMOS["INPUT_ROOTS"]]


def confined(path: str | Path, *, what: str, field: str) -> Path:
    """`path` resolved, if it exists inside an allowed root; InvalidInput saying why not otherwise."""
    given = Path(path).expanduser()
    if ".." in given.parts:
        raise InvalidInput(f"{what} {given} contains '..': give the path without it.", field=field)
    try:
        resolved = given.resolve(strict=True)
    except FileNotFoundError:
        raise InvalidInput(f"{what} {given} does not exist.", field=field) from None
    except (OSError, RuntimeError) as exc:  # permission denied, symlink loop
        raise InvalidInput(f"{what} {given} cannot be read: {exc}.", field=field) from None
    if _shell_access.get():
        return resolved
    roots = allowed_roots()
    if not any(resolved.is_relative_to(root) for root in roots):
        raise InvalidInput(
            f"{what} {given} is outside the allowed input folders ({', '.join(map(str, roots))}). "
            "Move it under one of them, or add a folder to COSMOS_INPUT_ROOTS.",
            field=field,
        )
    return resolved


def video_dir_files(video_dir: str | Path) -> dict[str, Path]:
    """The input videos of a server-side folder, by role; `color.mp4` must be there."""
    folder = confined(video_dir, what="Video folder", field="video_dir")
    if not folder.is_dir():
        raise InvalidInput(f"Video folder {video_dir} is not a folder.", field="video_dir")
    files: dict[str, Path] = {}
    for role in ROLES:
        candidate = folder / f"{role}.mp4"
        if candidate.exists() or candidate.is_symlink():
            files[role] = video_file(candidate, role=role)
    if REQUIRED_ROLE not in files:
        raise InvalidInput(
            f"No {REQUIRED_ROLE}.mp4 in {video_dir}: a video folder needs color.mp4 "
            "(depth.mp4 and segmentation.mp4 are optional).",
            field="video_dir",
        )
    return files


def video_file(path: str | Path, *, role: str) -> Path:
    """A server-side video file for `role`, confined like a folder and required to be a regular file."""
    resolved = confined(path, what=f"The {role} video", field=role)
    if not resolved.is_file():
        raise InvalidInput(f"The {role} video {path} is not a file.", field=role)
    return resolved
