"""Actions of PNG-sequence preparation: from a server-side folder (the CLI) or an uploaded zip (a background job).

A preparation writes only into a work folder, `INPUTS_DIR/prepared/.work-<random>`, on the same
filesystem as its destination. The finished videos and `metadata.json` appear in
`INPUTS_DIR/prepared/<name>_<timestamp>` by one rename at the end, and the work folder is removed
whatever happens: bad input, a crash in the encoder or a full disk leave nothing behind. (A work
folder left by a killed process is swept by the next preparation once it is a day old.)
"""

from __future__ import annotations

import errno
import json
import logging
import math
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_q.tasks import async_task

from prompts.errors import DomainError, InvalidInput, NotFound
from prompts.inputs import confined
from prompts.prepare.describe import Description, choose_name, describe, folder_safe
from prompts.prepare.discovery import Progress, SequenceReport, sequence_inspect
from prompts.prepare.encode import CRF, PRESET, EncodedVideo, sequence_encode
from prompts.prepare.geometry import Fit, FramePlan, plan_fit
from prompts.prepare.models import PreparationJob, PreparationStatus
from prompts.prepare.zipintake import zip_check, zip_extract
from prompts.services import prompt_create
from prompts.text import clean_text, prompt_text_clean

logger = logging.getLogger(__name__)

TASK = "prompts.prepare.tasks.preparation_run_task"
MIN_FPS, MAX_FPS = 1, 120
STALE_WORK_SECONDS = 24 * 3600
_UPLOAD_CHUNK = 1024 * 1024
# How a job's percent is split between its stages.
_STAGE_SPANS = {"unpacking": (0, 5), "checking frames": (5, 10), "encoding": (10, 95), "creating prompt": (95, 99)}


@dataclass(frozen=True)
class PrepareOptions:
    """What the user asked for; build it with `prepare_options`, which validates."""

    name: str = ""
    fps: float = 24
    description: str = ""
    use_ai: bool = True
    fit: str = Fit.PAD.value
    prompt_text: str = ""


class PromptNotCreated(InvalidInput):
    """The videos were prepared and kept, but the prompt could not be made from them."""

    def __init__(self, folder: Path, cause: DomainError):
        super().__init__(f"The videos are in {folder}, but the prompt was not created: {cause.message}", field=cause.field)
        self.output_dir = str(folder)


@dataclass(frozen=True)
class PreparedSequence:
    folder: Path
    name: str
    description: Description
    metadata: dict
    prompt_id: str | None = None
    warnings: list[str] = field(default_factory=list)


def prepare_options(
    *,
    name: str = "",
    fps: float | None = None,
    description: str = "",
    use_ai: bool = True,
    fit: str = Fit.PAD.value,
    prompt_text: str = "",
) -> PrepareOptions:
    """Validated options (fps defaults to COSMOS["DEFAULT_FPS"]); InvalidInput naming the field to fix."""
    fps = settings.COSMOS["DEFAULT_FPS"] if fps is None else fps
    number = isinstance(fps, int | float) and not isinstance(fps, bool)
    if not number or not math.isfinite(fps) or not MIN_FPS <= fps <= MAX_FPS:
        raise InvalidInput(f"fps must be a number from {MIN_FPS} to {MAX_FPS}; got {fps!r}.", field="fps")
    if fit not in Fit.__members__.values():
        raise InvalidInput(f"fit must be 'pad' or 'crop'; got {fit!r}.", field="fit")
    name = clean_text(name)
    if name and not folder_safe(name):
        raise InvalidInput(
            f"The name {name!r} has no letters or digits to name a folder with; choose another.", field="name"
        )
    return PrepareOptions(
        name=name,
        fps=fps,
        description=clean_text(description),
        use_ai=bool(use_ai),
        fit=fit,
        prompt_text=prompt_text_clean(prompt_text, required=False),
    )


def sequence_prepare(
    *, user, input_dir: str | Path, options: PrepareOptions, progress: Progress | None = None
) -> PreparedSequence:
    """Prepare the PNG sequences of a server-side folder inside COSMOS_INPUT_ROOTS (the CLI's path)."""
    _user_check(user)
    folder = confined(input_dir, what="Input folder", field="input_dir")
    with _work_dir() as work:
        return _prepare(
            user=user, folder=folder, work=work, label=str(input_dir), source=str(folder), options=options,
            fallback_name=folder.name, progress=progress,
        )


def preparation_start(*, user, upload: BinaryIO, filename: str, options: PrepareOptions) -> PreparationJob:
    """Keep an uploaded zip of PNG sequences and prepare it in the background; the job to follow.

    The zip's directory is checked now (not a zip, empty, escaping paths, bomb): such a zip is
    refused at once and not kept.
    """
    _user_check(user)
    label = Path(filename or "upload.zip").name
    uploads = _prepared_dir() / ".uploads"
    uploads.mkdir(parents=True, exist_ok=True)
    path = uploads / f"{secrets.token_hex(8)}.zip"
    try:
        _save_upload(upload, path, label=label)
        zip_check(path, label=label)
        job = PreparationJob.objects.create(
            owner=user, upload_name=label, upload_path=str(path), options=asdict(options), stage="queued"
        )
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    job_id = job.pk
    transaction.on_commit(lambda: async_task(TASK, job_id, group="prepare", task_name=f"prepare-{job_id}"))
    return job


def preparation_run(*, job_id: str) -> None:
    """Run a pending job to its end (the background task); the job row records the outcome."""
    claimed = PreparationJob.objects.filter(pk=job_id, status=PreparationStatus.PENDING).update(
        status=PreparationStatus.RUNNING, stage="unpacking", progress=0, updated_at=timezone.now()
    )
    if not claimed:
        logger.warning("Preparation %s is not pending (already run, or deleted); nothing to do.", job_id)
        return
    job = PreparationJob.objects.select_related("owner").get(pk=job_id)
    upload = Path(job.upload_path)
    try:
        with _work_dir() as work:
            unpacked = work / "zip"
            unpacked.mkdir()
            folder = zip_extract(upload, unpacked, label=job.upload_name)
            result = _prepare(
                user=job.owner, folder=folder, work=work, label=job.upload_name, source=f"upload {job.upload_name}",
                options=PrepareOptions(**job.options), fallback_name=Path(job.upload_name).stem,
                progress=_JobProgress(job_id),
            )
    except DomainError as exc:
        _job_finish(
            job_id, status=PreparationStatus.FAILED, error=exc.message,
            problems=getattr(exc, "problems", [exc.message]), output_dir=getattr(exc, "output_dir", ""),
        )
        return
    except Exception:
        _job_finish(
            job_id, status=PreparationStatus.FAILED,
            error="The preparation failed unexpectedly; the server log has the details.",
        )
        raise
    finally:
        upload.unlink(missing_ok=True)
    _job_finish(
        job_id, status=PreparationStatus.SUCCEEDED, progress=100, output_dir=str(result.folder),
        metadata=result.metadata, notices=[n for n in [result.description.notice, *result.warnings] if n],
        prompt_id=result.prompt_id,
    )


def _prepare(
    *, user, folder: Path, work: Path, label: str, source: str, options: PrepareOptions, fallback_name: str,
    progress: Progress | None,
) -> PreparedSequence:
    report = sequence_inspect(folder, label=label, progress=progress)
    report.raise_for_problems()
    plan = plan_fit(report.color.size, Fit(options.fit))
    fps = Fraction(options.fps).limit_denominator(1001)
    description = describe(report, plan, fps, given=options.description, use_ai=options.use_ai)
    name = choose_name(given=options.name, texts=[options.prompt_text, options.description], fallback=fallback_name)
    videos = work / "videos"
    videos.mkdir()
    encoded = sequence_encode(report, videos, fps=fps, plan=plan, progress=progress)
    metadata = _metadata(
        report=report, plan=plan, fps=fps, name=name, description=description, encoded=encoded, source=source,
        user=user,
    )
    (videos / "metadata.json").write_text(json.dumps(metadata, indent=2) + "\n")
    final = _publish(videos, name)
    prompt_id = None
    if options.prompt_text:
        if progress:
            progress("creating prompt", 0, 1)
        try:
            prompt_id = prompt_create(user=user, prompt_text=options.prompt_text, video_dir=final, name=name).pk
        except DomainError as exc:
            raise PromptNotCreated(final, exc) from exc
    return PreparedSequence(
        folder=final, name=name, description=description, metadata=metadata, prompt_id=prompt_id,
        warnings=report.warnings,
    )


def _metadata(
    *, report: SequenceReport, plan: FramePlan, fps: Fraction, name: str, description: Description,
    encoded: dict[str, EncodedVideo], source: str, user,
) -> dict:
    return {
        "name": name,
        "description": description.text,
        "description_source": description.source,
        "source": source,
        "prepared_by": user.get_username(),
        "prepared_at": timezone.now().isoformat(timespec="seconds"),
        "frame_count": report.frame_count,
        "frame_numbers": [report.color.numbers[0], report.color.numbers[-1]],
        "fps": int(fps) if fps.denominator == 1 else float(fps),
        "duration_seconds": round(report.frame_count / float(fps), 3),
        "resolution": list(plan.target),
        "source_resolution": list(plan.source),
        "fit": plan.fit.value,
        "modalities": list(encoded),
        "files": {
            video.path.name: {
                "modality": modality,
                "sha256": video.sha256,
                "size": video.size,
                "frames": video.frames,
                "source_frames": report.passes[modality].pattern,
                **({"depth_range": list(video.value_range)} if video.value_range else {}),
            }
            for modality, video in encoded.items()
        },
        "encoding": {"codec": "h264", "pix_fmt": "yuv420p", "color": "bt709, limited range", "crf": CRF, "preset": PRESET},
    }


def _prepared_dir() -> Path:
    return Path(settings.INPUTS_DIR) / "prepared"


@contextmanager
def _work_dir() -> Iterator[Path]:
    """A private folder beside the published ones (so publishing is a rename), removed on the way out."""
    parent = _prepared_dir()
    parent.mkdir(parents=True, exist_ok=True)
    _sweep_stale_work(parent)
    work = parent / f".work-{secrets.token_hex(8)}"
    work.mkdir()
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _sweep_stale_work(parent: Path) -> None:
    cutoff = time.time() - STALE_WORK_SECONDS
    for stale in parent.glob(".work-*"):
        try:
            if stale.stat().st_mtime < cutoff:
                shutil.rmtree(stale, ignore_errors=True)
        except FileNotFoundError:  # another preparation swept it first
            pass


def _publish(videos: Path, name: str) -> Path:
    """Rename the finished folder to `<name>_<timestamp>` (plus `_2`, `_3`... if taken); never overwrites."""
    base = f"{name}_{timezone.localtime().strftime('%Y%m%d_%H%M%S')}"
    for attempt in range(1, 1000):
        final = _prepared_dir() / (base if attempt == 1 else f"{base}_{attempt}")
        try:
            # Onto an existing folder with files in it, rename fails: nobody's videos are replaced.
            os.rename(videos, final)
        except OSError as exc:
            if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
                continue
            raise
        return final
    raise InvalidInput(f"Too many prepared folders named {base}; choose another name.", field="name")


def _save_upload(upload: BinaryIO, path: Path, *, label: str) -> None:
    limit = settings.COSMOS_MAX_UPLOAD_BYTES
    size = 0
    with path.open("xb") as sink:
        while chunk := upload.read(_UPLOAD_CHUNK):
            size += len(chunk)
            if size > limit:
                raise InvalidInput(
                    f"{label} is larger than the {limit / 1024**3:.1f} GiB an upload may be.", field="zip"
                )
            sink.write(chunk)


def _user_check(user) -> None:
    if not user or not user.is_authenticated or not user.is_active:
        raise NotFound("No such user, or the user is inactive.")


class _JobProgress:
    """Writes a job's stage and percent to its row when they change (at most ~100 writes)."""

    def __init__(self, job_id: str):
        self.job_id = job_id
        self.last: tuple[str, int] | None = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        low, high = _STAGE_SPANS.get(stage, (0, 99))
        percent = low + (high - low) * done // max(total, 1)
        if (stage, percent) != self.last:
            self.last = (stage, percent)
            PreparationJob.objects.filter(pk=self.job_id).update(
                stage=stage, progress=percent, updated_at=timezone.now()
            )


def _job_finish(job_id: str, *, status: str, prompt_id: str | None = None, **fields) -> None:
    now = timezone.now()
    PreparationJob.objects.filter(pk=job_id).update(
        status=status, stage="", prompt_id=prompt_id, finished_at=now, updated_at=now, **fields
    )
