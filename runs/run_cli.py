"""`cosmos inference | upscale | prompt-enhance | cancel | retry | status | kill | verify |
reconcile`: the commands that put work on the GPUs and look after it.

Handlers parse options, call runs.services / runs.selectors and present the result: rich output
for people, `--json` for scripts. `--wait` follows the runs in the database (a worker does the
work: `python manage.py qcluster`, which `make run` starts) with a progress bar until each ends.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from django.core.management import call_command
from django.core.management.base import CommandError
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from logs.files import LogFile
from prompts.errors import InvalidInput
from runs import services
from runs.cli import status_text
from runs.models import FINISHED_STATUSES, RunStatus
from runs.outputs import run_log_path
from runs.selectors import run_get, run_newest_active, run_output_dir, run_to_dict

WAIT_POLL = 0.5
# Say how to start a worker when a run has waited this long without being picked up.
NO_WORKER_HINT_AFTER = 15


def _inference(ctx, options):
    params = {
        key: options[option]
        for key, option in (
            ("num_steps", "num_steps"),
            ("guidance", "guidance_scale"),
            ("seed", "seed"),
            ("sigma_max", "sigma_max"),
            ("fps", "fps"),
            ("blur_strength", "blur_strength"),
            ("canny_threshold", "canny_threshold"),
            ("negative_prompt", "negative"),
        )
        if options[option] is not None
    }
    if options["weights"] is not None:
        params["weights"] = options["weights"]
    common = {"user": ctx.user, "batch_name": options["batch_name"] or "", "priority": options["priority"]}
    if options["create_prompt"] is not None:
        submission = _create_and_run(options, params, common)
    else:
        entries = [{"prompt_id": pid} for pid in options["prompt_ids"]]
        if options["prompts_file"]:
            entries += _entries_from_file(options["prompts_file"])
        # Plain ids: one run per distinct prompt. A line with parameters of its own makes every
        # line one run of its own (a prompt may come twice, with other weights).
        own_params = any(len(entry) > 1 for entry in entries)
        submission = services.inference_submit(
            prompt_ids=None if own_params else [entry["prompt_id"] for entry in entries],
            items=entries if own_params else None,
            params=params,
            dry_run=options["dry_run"],
            **common,
        )
    _submitted(ctx, options, submission, what="inference")


def _create_and_run(options, params, common):
    if options["prompt_ids"] or options["prompts_file"]:
        raise InvalidInput("--create-prompt makes its own prompt: give no prompt ids with it.", field="prompt_ids")
    if not options["video_dir"]:
        raise InvalidInput("--create-prompt needs --video-dir, the folder with color.mp4.", field="video_dir")
    if options["dry_run"]:
        raise InvalidInput("A dry run needs an existing prompt: create it with `cosmos create prompt` first.")
    negative = params.pop("negative_prompt", "")  # the prompt's, and so its run's
    return services.create_and_run(
        prompt_text=options["create_prompt"],
        video_dir=options["video_dir"],
        name=options["name"] or "",
        negative_prompt=negative,
        params=params,
        **common,
    )


def _upscale(ctx, options):
    submission = services.upscale_submit(
        user=ctx.user,
        run_id=options["run_id"],
        weight=options["weight"],
        priority=options["priority"],
        dry_run=options["dry_run"],
    )
    _submitted(ctx, options, submission, what="upscaling")


def _enhance(ctx, options):
    submission = services.enhance_submit(
        user=ctx.user,
        prompt_ids=options["prompt_ids"],
        overwrite=options["overwrite"],
        resolution=options["resolution"],
        priority=options["priority"],
        dry_run=options["dry_run"],
    )
    _submitted(ctx, options, submission, what="enhancement")


def _submitted(ctx, options, submission, *, what: str) -> None:
    if submission.dry_run:
        if options["json"]:
            ctx.json(submission.to_dict())
            return
        ctx.print(f"[bold]Dry run[/]: nothing was created. {len(submission.runs)} {what} run(s) would go as:")
        for job in submission.plan:
            ctx.json(job)
            ctx.print("")
        return
    runs = submission.runs
    if options.get("wait"):
        runs = _wait(ctx, [run.id for run in runs], quiet=options["json"])
    if options["json"]:
        ctx.json({**submission.to_dict(), "runs": [run_to_dict(run) for run in runs]})
        return
    if submission.prompt is not None:
        made = "Created" if submission.prompt.was_created else "Found the same"
        ctx.print(f'{made} prompt {submission.prompt.id} with name "{submission.prompt.name}"')
    batch = f" in batch {submission.batch_name or submission.batch_id}" if submission.batch_id else ""
    ctx.print(f"Created {what} run(s){batch}: {', '.join(run.id for run in runs)}")
    for run in runs:
        if run.status in FINISHED_STATUSES:
            ctx.print(_outcome(run))
    if not options.get("wait"):
        ctx.print("Follow with: python manage.py cosmos status --stream  (a worker runs them: manage.py qcluster)")


def _outcome(run) -> str:
    """One finished run in a line: its video's path, the enhanced prompt and its text, or the reason it failed."""
    if run.status != RunStatus.COMPLETED:
        return f"{run.id} {status_text(run.status)}: {run.error}"
    outputs = run.outputs
    if "enhanced_text" in outputs:
        prompt_id = outputs["enhanced_prompt_id"]
        target = f"prompt {prompt_id} rewritten" if outputs.get("mode") == "overwrite" else f"new prompt {prompt_id}"
        return f"{run.id} {status_text(run.status)}: {target}: {outputs['enhanced_text']}"
    video = outputs.get("video")
    where = run_output_dir(run) / video if video else run_output_dir(run)
    return f"{run.id} {status_text(run.status)}: {where}"


def _wait(ctx, run_ids: list[str], *, quiet: bool):
    """Poll the runs until each has finished; a progress bar per run unless `quiet`."""
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[stage]}"), TimeElapsedColumn())
    started = time.monotonic()
    hinted = False
    with Progress(*columns, console=ctx.console, disable=quiet, transient=False) as progress:
        bars = {rid: progress.add_task(rid, total=100, stage="pending") for rid in run_ids}
        while True:
            runs = [run_get(user=ctx.user, run_id=rid) for rid in run_ids]
            for run in runs:
                info = run.progress or {}
                percent = 100 if run.status in FINISHED_STATUSES else info.get("percent", 0)
                stage = run.status if run.status != RunStatus.RUNNING else info.get("label", "running")
                progress.update(bars[run.id], completed=percent, stage=stage)
            if all(run.status in FINISHED_STATUSES for run in runs):
                return runs
            waiting = all(run.status == RunStatus.PENDING for run in runs)
            if waiting and not hinted and time.monotonic() - started > NO_WORKER_HINT_AFTER:
                progress.console.print("Still pending: is a worker running? Start one with: python manage.py qcluster")
                hinted = True
            time.sleep(WAIT_POLL)


def _cancel(ctx, options):
    run = services.run_cancel(user=ctx.user, run_id=options["run_id"])
    if options["json"]:
        ctx.json(run_to_dict(run))
    else:
        ctx.print(f"Run {run.id} is {status_text(run.status)}.")


def _retry(ctx, options):
    run = services.run_retry(user=ctx.user, run_id=options["run_id"])
    if options["wait"]:
        run = _wait(ctx, [run.id], quiet=options["json"])[0]
    if options["json"]:
        ctx.json(run_to_dict(run))
    else:
        ctx.print(f"Retrying {options['run_id']} as {run.id} ({status_text(run.status)}).")


def _status(ctx, options):
    if options["stream"]:
        run_id = options["stream"] if isinstance(options["stream"], str) else None
        _stream(ctx, run_get(user=ctx.user, run_id=run_id) if run_id else run_newest_active(user=ctx.user))
        return
    hosts = services.hosts_status(user=ctx.user, wait_for_all=True)  # a command waits for every host's answer
    if options["json"]:
        ctx.json(hosts)
        return
    if not hosts:
        ctx.print("No GPU hosts yet: add one with `cosmos host add` (make run adds a simulated one).")
    for host in hosts:
        title = f"[bold]{host['host']}[/] ({host['address']}{', simulated' if host['simulated'] else ''}" + (
            ")" if host["enabled"] else ", disabled)"
        )
        ctx.print(title)
        if host["error"]:
            ctx.print(f"  [red]unreachable[/]: {host['error']}")
        for gpu in host["gpus"]:
            ctx.print(
                f"  GPU {gpu['index']} {gpu['name']}: {gpu['memory_used_mb']}/{gpu['memory_total_mb']} MiB, "
                f"{gpu['utilization_pct']}% busy, {gpu['temperature_c']}°C"
            )
        ctx.print(f"  containers: {', '.join(c['name'] for c in host['containers']) or 'none'}")
        table = Table(show_header=True, box=None, padding=(0, 2))
        for column in ("Run", "Type", "Prompt", "Status", "GPU", "Progress"):
            table.add_column(column)
        for op in host["operations"]:
            gpus = ",".join(map(str, op["gpus"]))
            if op["run_id"] is None:
                table.add_row(op["label"], "", "", status_text(op["status"]), gpus, "")
                continue
            info = op["progress"] or {}
            table.add_row(
                op["run_id"],
                op["model_type"],
                op["prompt_name"] or op["prompt_id"],
                status_text(op["status"]),
                gpus,
                f"{info.get('label', '')} {info.get('percent', '')}".strip(),
            )
        if host["operations"]:
            ctx.print(table)
        ctx.print(f"  queue: {host['queued_jobs']} job(s) waiting for this host; {host['pending_runs']} run(s) pending")


def _stream(ctx, run):
    """Print the run's log (the copy of its container's log) and follow it until the run ends or Ctrl+C."""
    ctx.print(f"[dim]Following {run.id} ({run.model_type}, {run.status}) — Ctrl+C to stop[/]")
    log = LogFile(run_log_path(run))
    offset = 0
    try:
        while True:
            lines, offset = log.read_from(offset)
            for line in lines:
                ctx.command.stdout.write(line)
            if not lines:
                run.refresh_from_db()
                if run.status in FINISHED_STATUSES:
                    ctx.print(f"[dim]{run.id} ended: {run.status}[/]")
                    return
                time.sleep(0.2)
    except KeyboardInterrupt:
        return


def _kill(ctx, options):
    if not options["force"]:
        if not sys.stdin.isatty():
            raise CommandError("This kills every Cosmos container on the host(s); add --force to do it.")
        answer = input("Kill all running Cosmos containers (their runs are cancelled)? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            raise CommandError("Nothing killed.")
    results = services.host_kill(user=ctx.user, host_name=options["host"])
    if options["json"]:
        ctx.json(results)
        return
    for result in results:
        killed = ", ".join(result["killed"]) or "no containers"
        ctx.print(f"{result['host']}: killed {killed}; cancelled runs: {', '.join(result['cancelled_runs']) or 'none'}")


def _verify(ctx, options):
    report = services.integrity_verify(user=ctx.user, fix=options["fix"])
    if options["json"]:
        ctx.json(report.to_dict())
    else:
        ctx.print(f"Checked {report.checked_runs} completed run(s) and {report.checked_prompts} prompt(s).")
        if report.ok:
            ctx.print("[green]Database and files agree.[/]")
        for finding in report.findings:
            fixed = f" [green]-> {finding.fixed}[/]" if finding.fixed else ""
            ctx.print(f"[yellow]{finding.kind}[/] {finding.subject}: {finding.detail}{fixed}")
        if not report.ok and not options["fix"]:
            ctx.print("Run `cosmos verify --fix` to remove orphans and mark broken runs failed.")


def _reconcile(ctx, options):
    actions = services.runs_reconcile(user=ctx.user)
    if options["json"]:
        ctx.json([action.to_dict() for action in actions])
        return
    if not actions:
        ctx.print("Every active job has a live worker.")
    for action in actions:
        ctx.print(f"{action.job} on {action.host or '?'}: [bold]{action.action}[/] — {action.detail}")


def _ui(ctx, options):
    """The seed's `cosmos ui`: here the whole app (web pages, API, worker) starts with runcosmos."""
    port = {"port": options["port"]} if options["port"] else {}  # else runcosmos's own default
    call_command("runcosmos", host=options["host"], stdout=ctx.command.stdout, **port)


def _entries_from_file(path: str) -> list[dict]:
    """The runs a prompts file asks for: per line a prompt id (`# comments` allowed), or a JSON
    object with a `prompt_id` and parameters of its own (`weights`, `seed`, `num_steps`...)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise InvalidInput(f"Cannot read the prompts file {path}: {error.strerror}.", field="prompts_file") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"The prompts file {path} is not UTF-8 text.", field="prompts_file") from None
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if line.startswith("{"):
            try:
                entry = json.loads(line)
            except ValueError as error:
                raise InvalidInput(f"{path}, line {number}: not valid JSON ({error}).", field="prompts_file") from None
            if not isinstance(entry, dict) or not isinstance(entry.get("prompt_id"), str):
                raise InvalidInput(f"{path}, line {number}: give a \"prompt_id\".", field="prompts_file")
            entries.append(entry)
        elif line.split("#", 1)[0].strip():
            entries.append({"prompt_id": line.split("#", 1)[0].strip()})
    return entries


def register(cli) -> None:
    p = cli.command("inference", _inference, help="run Cosmos Transfer on prompts (several make a batch)")
    p.add_argument("prompt_ids", metavar="PROMPT_ID", nargs="*")
    p.add_argument(
        "--prompts-file",
        metavar="FILE",
        help="one prompt id per line, or per line a JSON object: a prompt_id and its own parameters "
        '({"prompt_id": "ps_...", "weights": {"vis": 0.5}, "seed": 7}); the options here apply to the rest',
    )
    p.add_argument("--create-prompt", metavar="TEXT", help="create a prompt with this text from --video-dir and run it")
    p.add_argument("--video-dir", metavar="DIR", help="with --create-prompt: the folder with color.mp4 (depth, segmentation)")
    p.add_argument("--name", help="with --create-prompt: the prompt's name (default: a smart name)")
    p.add_argument("--weights", nargs=4, type=float, metavar=("VIS", "EDGE", "DEPTH", "SEG"), help="control weights 0..1")
    p.add_argument("--num-steps", type=int, help="diffusion steps (default 35)")
    p.add_argument("--guidance-scale", type=float, help="classifier-free guidance (default 8.0)")
    p.add_argument("--seed", type=int)
    p.add_argument("--sigma-max", type=float)
    p.add_argument("--fps", type=int)
    p.add_argument("--blur-strength", choices=("very_low", "low", "medium", "high", "very_high"))
    p.add_argument("--canny-threshold", choices=("very_low", "low", "medium", "high", "very_high"))
    p.add_argument("--negative", help="negative prompt (default: the prompt's)")
    p.add_argument("--batch-name", help="name of the batch (its output folder is batch_<name>_<time>)")
    _submit_options(p)

    p = cli.command("upscale", _upscale, help="upscale a completed inference run to 4K (a new run)")
    p.add_argument("run_id", metavar="RUN_ID")
    p.add_argument("-w", "--weight", type=float, help="upscale control weight 0..1 (default 0.5)")
    _submit_options(p)

    p = cli.command("prompt-enhance", _enhance, help="improve prompts with the prompt upsampler")
    p.add_argument("prompt_ids", metavar="PROMPT_ID", nargs="+")
    p.add_argument("--overwrite", action="store_true", help="replace the prompt's text (only if it has no runs)")
    p.add_argument("--resolution", type=int, metavar="PIXELS", help="scale the video's shorter side down to this first (e.g. 480)")
    _submit_options(p)

    p = cli.command("cancel", _cancel, help="cancel a run (kills its container if it runs)")
    p.add_argument("run_id", metavar="RUN_ID")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")

    p = cli.command("retry", _retry, help="run a finished run again with the same parameters")
    p.add_argument("run_id", metavar="RUN_ID")
    p.add_argument("--wait", action="store_true", help="show progress until it has finished")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")

    p = cli.command("status", _status, help="GPU hosts: GPUs, containers, active runs, queue")
    p.add_argument("--stream", nargs="?", const=True, default=False, metavar="RUN_ID",
                   help="follow a run's log until it ends or Ctrl+C (default: the newest active run)")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")

    p = cli.command("kill", _kill, help="kill every Cosmos container on the GPU host(s) (staff)")
    p.add_argument("-f", "--force", action="store_true", help="do not ask for confirmation")
    p.add_argument("--host", help="only this host (default: every enabled host)")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")

    p = cli.command("verify", _verify, help="check that database and files agree (staff)")
    p.add_argument("--fix", action="store_true", help="remove orphans and mark broken runs failed")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")

    p = cli.command("ui", _ui, help="start the web app (the same as manage.py runcosmos)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default $PORT or 8000)")

    p = cli.command("reconcile", _reconcile, help="look after runs whose worker went quiet (staff)")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")


def _submit_options(parser) -> None:
    parser.add_argument("--priority", type=int, default=0, help="higher runs first (-100..100, default 0)")
    parser.add_argument("--dry-run", action="store_true", help="show the specs and commands; create nothing")
    parser.add_argument("--wait", action="store_true", help="show progress until every run has finished")
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
