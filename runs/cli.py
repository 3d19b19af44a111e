"""`cosmos list runs`, `show` (a prompt or a run), `delete prompt`, `delete run`: the commands that need runs.

`show` and `delete prompt` live here rather than in prompts.cli because they reach runs (a
prompt's runs, their output folders), and prompts may not import runs.
"""

from __future__ import annotations

import sys

from django.core.management.base import CommandError
from django.utils import timezone
from rich import box
from rich.console import Group
from rich.panel import Panel
from rich.table import Table

from prompts.cli import PROMPT_ID_WIDTH, RUN_ID_WIDTH, add_page_options, page_caption, total_text, truncate, when
from prompts.selectors import prompt_get, prompt_to_dict
from runs.files import run_files
from runs.models import RunStatus
from runs.selectors import batch_summary, run_get, run_output_dir, run_to_dict, runs_for_user, runs_of_prompt
from runs.services import prompt_delete, run_delete

STATUS_STYLE = {
    RunStatus.COMPLETED: "green",
    RunStatus.FAILED: "red",
    RunStatus.CANCELLED: "dim",
    RunStatus.CANCELLING: "yellow",
    RunStatus.RUNNING: "yellow",
    RunStatus.UPLOADING: "yellow",
    RunStatus.DOWNLOADING: "yellow",
    RunStatus.QUEUED: "cyan",
    RunStatus.PENDING: "cyan",
}


def status_text(status: str) -> str:
    return f"[{STATUS_STYLE.get(status, 'white')}]{status}[/]"


def duration(run) -> str:
    seconds = run.duration_seconds
    if seconds is None:
        return "—"
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}m {seconds:02d}s" if minutes else f"{seconds}s"


def _list_runs(ctx, options):
    page = runs_for_user(
        user=ctx.user,
        status=options["status"],
        prompt_id=options["prompt"],
        model_type=options["model"],
        owner=options["owner"],
        batch=options["batch"],
        limit=options["limit"],
        offset=options["offset"],
    )
    batch = batch_summary(user=ctx.user, batch=options["batch"]) if options["batch"] else None
    if options["json"]:
        ctx.json({**page.to_dict(run_to_dict), **({"batch": batch} if options["batch"] else {})})
        return
    if batch:
        counts = ", ".join(f"{count} {status_text(status)}" for status, count in batch["by_status"].items())
        ctx.print(f"Batch {batch['batch']}: {batch['total']} run(s): {counts}" + (" (finished)" if batch["finished"] else ""))
    if not page.total:
        filtered = any(options[key] for key in ("status", "prompt", "model", "owner", "batch"))
        ctx.print("No runs match." if filtered else "No runs yet.")
        return
    table = Table(title=f"Runs ({total_text(page)})", caption=page_caption(page))
    table.add_column("ID", no_wrap=True, min_width=RUN_ID_WIDTH)
    table.add_column("Prompt", no_wrap=True, min_width=PROMPT_ID_WIDTH)
    for column in ("Model", "Status", "Owner", "Created", "Duration"):
        table.add_column(column)
    for run in page.items:
        table.add_row(
            run.id,
            run.prompt_id,
            run.model_type,
            status_text(run.status),
            run.owner.get_username(),
            when(run.created_at),
            duration(run),
        )
    ctx.print(table)


def _show(ctx, options):
    """A prompt with its runs, or one run: the id's prefix says which (`ps_` or `rs_`)."""
    if options["object_id"].startswith("rs_"):
        _show_run(ctx, options, run_get(user=ctx.user, run_id=options["object_id"]))
        return
    prompt = prompt_get(user=ctx.user, prompt_id=options["object_id"])
    runs = runs_of_prompt(user=ctx.user, prompt=prompt)
    if options["json"]:
        ctx.json({**prompt_to_dict(prompt), "runs": [run_to_dict(run) for run in runs]})
        return
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column()
    facts.add_row("Name", prompt.name + (" (automatic)" if prompt.name_is_auto else ""))
    facts.add_row("Owner", prompt.owner.get_username())
    facts.add_row("Model", prompt.model_type)
    facts.add_row("Created", when(prompt.created_at))
    if prompt.enhanced_from_id:
        facts.add_row("Enhanced from", prompt.enhanced_from_id)
    facts.add_row("Prompt", prompt.prompt_text)
    facts.add_row("Negative", truncate(prompt.negative_prompt, 120))
    if prompt.parameters:
        facts.add_row("Parameters", ", ".join(f"{k}={v}" for k, v in sorted(prompt.parameters.items())))
    videos = Table(title="Input videos", title_justify="left")
    for column in ("Role", "Size", "Frames", "FPS", "Codec", "SHA-256"):
        videos.add_column(column)
    for role, info in prompt.inputs.items():
        videos.add_row(
            role,
            f"{info['width']}x{info['height']}",
            str(info["frames"]),
            f"{info['fps']:g}",
            info.get("codec", ""),
            info["sha256"][:16] + "…",
        )
    parts = [facts, videos]
    if not runs:
        parts.append("No runs yet.")
    ctx.print(Panel(Group(*parts), title=f"[bold]{prompt.id}[/]", title_align="left"))
    if runs:
        # Outside the panel and with the outputs on lines of their own: a run id and a path
        # are long, and the table must stay readable at 80 columns (pipes, CI logs).
        run_table = Table(title=f"Runs ({len(runs)})", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
        for column in ("ID", "Model", "Status", "Created", "Took"):
            run_table.add_column(column, no_wrap=True)
        for run in runs:
            created = timezone.localtime(run.created_at).strftime("%m-%d %H:%M")
            run_table.add_row(run.id, run.model_type, status_text(run.status), created, duration(run))
        ctx.print(run_table)
        for run in runs:
            if run.status in (RunStatus.COMPLETED, RunStatus.FAILED):
                ctx.print(f"  {run.id} {'->' if run.status == RunStatus.COMPLETED else 'failed:'} {_outputs(run)}")


# The moments of a run's way, in order, as `cosmos show RUN_ID` lists them.
TIMESTAMPS = (
    ("Created", "created_at"),
    ("Queued", "queued_at"),
    ("Uploading", "uploading_at"),
    ("Started", "started_at"),
    ("Downloading", "downloading_at"),
    ("Cancel asked", "cancel_requested_at"),
    ("Finished", "completed_at"),
)


def _show_run(ctx, options, run) -> None:
    files = run_files(run)
    if options["json"]:
        ctx.json({**run_to_dict(run), "files": files})
        return
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column()
    facts.add_row("Prompt", f"{run.prompt_id} ({run.prompt.name})")
    facts.add_row("Owner", run.owner.get_username())
    facts.add_row("Model", run.model_type)
    facts.add_row("Status", status_text(run.status) + (f" ({run.progress['label']})" if run.progress.get("label") else ""))
    if run.error:
        facts.add_row("Error", run.error)
    for label, value in (("Upscale of", run.parent_id), ("Batch", run.batch_name or run.batch_id),
                         ("Host", run.host.name if run.host_id else "")):
        if value:
            facts.add_row(label, str(value))
    params = run.execution_config
    if params:
        facts.add_row("Parameters", ", ".join(f"{k}={v}" for k, v in sorted(params.items())))
    for label, field in TIMESTAMPS:
        moment = getattr(run, field)
        if moment:
            facts.add_row(label, timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S"))
    facts.add_row("Took", duration(run))
    facts.add_row("Folder", str(run_output_dir(run)))
    parts = [facts]
    if files:
        table = Table(title="Files", title_justify="left", box=box.SIMPLE_HEAD)
        table.add_column("Name")
        table.add_column("Size", justify="right")
        for item in files:
            table.add_row(item["name"], f"{item['size']:,}")
        parts.append(table)
    ctx.print(Panel(Group(*parts), title=f"[bold]{run.id}[/]", title_align="left"))
    if run.status in (RunStatus.COMPLETED, RunStatus.FAILED):
        ctx.print(f"{'->' if run.status == RunStatus.COMPLETED else 'failed:'} {_outputs(run)}")


def _outputs(run) -> str:
    """What a run left: its video (or enhanced prompt) for a completed run, the reason for a failed one."""
    if run.status == RunStatus.COMPLETED:
        if run.outputs.get("enhanced_prompt_id"):
            return f"prompt {run.outputs['enhanced_prompt_id']}"
        return str(run_output_dir(run) / run.outputs.get("video", ""))
    return run.error


def _confirm(ctx, options, question: str) -> None:
    """Ask before deleting when a person is at the terminal; scripts (no TTY) and --yes/--force go on."""
    if options["yes"] or options["force"] or not sys.stdin.isatty():
        return
    answer = input(f"{question} [y/N] ").strip().lower()
    if answer not in ("y", "yes"):
        raise CommandError("Nothing deleted.")


def _delete_prompt(ctx, options):
    prompt = prompt_get(user=ctx.user, prompt_id=options["prompt_id"])
    count = len(runs_of_prompt(user=ctx.user, prompt=prompt))
    _confirm(ctx, options, f"Delete prompt {prompt.id} ({prompt.name}) and its {count} run(s) with their files?")
    prompt_delete(user=ctx.user, prompt_id=prompt.id, force=options["force"])
    if options["json"]:
        ctx.json({"deleted": prompt.id, "runs_deleted": count})
    else:
        ctx.print(f"Deleted prompt {prompt.id} and {count} run(s).")


def _delete_run(ctx, options):
    run = run_get(user=ctx.user, run_id=options["run_id"])
    _confirm(ctx, options, f"Delete run {run.id} ({run.status}) and its output files?")
    run_delete(user=ctx.user, run_id=run.id, force=options["force"])
    if options["json"]:
        ctx.json({"deleted": run.id})
    else:
        ctx.print(f"Deleted run {run.id}.")


def register(cli) -> None:
    listing = {"group": "list", "group_help": "list prompts or runs"}
    deleting = {"group": "delete", "group_help": "delete prompts or runs"}

    p = cli.command("runs", _list_runs, help="list runs, newest first", **listing)
    p.add_argument("--status", help=f"only runs in this status ({', '.join(RunStatus.values)})")
    p.add_argument("--prompt", metavar="PROMPT_ID", help="only runs of this prompt")
    p.add_argument("--model", help="only this model type")
    p.add_argument("--owner", metavar="USERNAME", help="only runs of this user (staff see everyone's)")
    p.add_argument("--batch", metavar="BATCH", help="only the runs of this batch (its bt_ id, or its name), with a summary")
    add_page_options(p, what="runs")

    p = cli.command("show", _show, help="show a prompt (its input videos and runs) or a run (parameters, timings, files)")
    p.add_argument("object_id", metavar="PROMPT_ID|RUN_ID")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")

    for name, handler, id_name, what in (
        ("prompt", _delete_prompt, "prompt_id", "a prompt, its runs and their files"),
        ("run", _delete_run, "run_id", "a run and its output files"),
    ):
        p = cli.command(name, handler, help=f"delete {what}", **deleting)
        p.add_argument(id_name, metavar=id_name.upper())
        p.add_argument("--force", action="store_true", help="also while active, and without asking")
        p.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
        p.add_argument("--json", action="store_true", help="print JSON for scripts")
