"""`cosmos prepare INPUT_DIR`: rendered PNG sequences -> Cosmos input videos (and, if asked, a prompt)."""

from __future__ import annotations

from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from prompts.prepare.discovery import MODALITIES
from prompts.prepare.services import PreparedSequence, prepare_options, sequence_prepare


_FITTED = {"pad": "padded", "crop": "cropped"}


def register(cli) -> None:
    parser = cli.command(
        "prepare",
        prepare,
        help="Turn rendered PNG sequences (color.0001.png, depth.0001.png, ...) into the videos a prompt takes.",
    )
    parser.add_argument("input_dir", metavar="INPUT_DIR", help="folder holding the numbered PNG frames of each pass")
    parser.add_argument(
        "--name", default="", help="output name (default: a smart name from --create-prompt or --description, "
        "else the folder's name)"
    )
    parser.add_argument("--fps", type=float, default=None, help="frame rate of the videos (default: 24)")
    parser.add_argument("--description", default="", help="what the sequence shows (kept in metadata.json)")
    parser.add_argument(
        "--use-ai", dest="use_ai", action="store_true", default=True,
        help="without --description, caption the frames with AI (default; no caption model is available "
        "offline, so the description is built from the sequence facts and the output says so)",
    )
    parser.add_argument("--no-ai", dest="use_ai", action="store_false", help="describe the sequence by its facts")
    parser.add_argument("--create-prompt", metavar="TEXT", default="", help="also create a prompt with this text")
    parser.add_argument(
        "--fit", choices=("pad", "crop"), default="pad",
        help="keep the aspect ratio at the nearest accepted resolution by padding (default) or cropping",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def prepare(ctx, options) -> None:
    chosen = prepare_options(
        name=options["name"],
        fps=options["fps"],
        description=options["description"],
        use_ai=options["use_ai"],
        fit=options["fit"],
        prompt_text=options["create_prompt"],
    )
    if options["json"]:
        result = sequence_prepare(user=ctx.user, input_dir=options["input_dir"], options=chosen)
        ctx.json(as_json(result))
        return
    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn())
    # A live bar only on a terminal: piped or captured output gets the result alone.
    with Progress(*columns, console=ctx.console, transient=True, disable=not ctx.console.is_terminal) as bar:
        task = bar.add_task("checking frames", total=None)

        def progress(stage: str, done: int, total: int) -> None:
            bar.update(task, description=stage, completed=done, total=total)

        result = sequence_prepare(user=ctx.user, input_dir=options["input_dir"], options=chosen, progress=progress)
    _print(ctx, result)


def as_json(result: PreparedSequence) -> dict:
    return {
        "folder": str(result.folder),
        "name": result.name,
        "description": result.description.text,
        "description_source": result.description.source,
        "prompt_id": result.prompt_id,
        "notices": [result.description.notice] if result.description.notice else [],
        "warnings": result.warnings,
        "metadata": result.metadata,
    }


def _print(ctx, result: PreparedSequence) -> None:
    meta = result.metadata
    width, height = meta["resolution"]
    table = Table(title=f"{meta['frame_count']} frames, {width}x{height}, {meta['fps']} fps, {meta['duration_seconds']} s")
    for column in ("pass", "frames", "video", "size"):
        table.add_column(column)
    for filename, info in sorted(meta["files"].items(), key=lambda item: MODALITIES.index(item[1]["modality"])):
        table.add_row(info["modality"], info["source_frames"], filename, f"{info['size'] / 1024**2:.1f} MB")
    ctx.print(table)
    if meta["source_resolution"] != meta["resolution"]:
        source_width, source_height = meta["source_resolution"]
        ctx.print(f"Rendered at {source_width}x{source_height}: scaled and {_FITTED[meta['fit']]} to {width}x{height}.")
    ctx.print(f"Description: {result.description.text}")
    if result.description.notice:
        ctx.print(f"[yellow]Note:[/] {result.description.notice}")
    for warning in result.warnings:
        ctx.print(f"[yellow]Warning:[/] {warning}")
    ctx.print(f"Folder: [bold]{result.folder}[/]")
    if result.prompt_id:
        ctx.print(f"Prompt: [bold]{result.prompt_id}[/]")
