"""`cosmos create prompt`, `list prompts`, `search`, `sample-inputs`: prompts from the command line.

Handlers parse options, call prompts.services / prompts.selectors, and present the result: a rich
table for people, `--json` for scripts (a prompt is `prompt_to_dict`, a list is a page:
{"items", "total", "limit", "offset"}). The small formatting helpers here serve runs.cli too.
"""

from __future__ import annotations

import re
from datetime import datetime

from django.utils import timezone
from rich.table import Table
from rich.text import Text

from prompts.models import ModelType
from prompts.paging import Page
from prompts.samples import SAMPLE_PROMPT, write_scene
from prompts.selectors import prompt_to_dict, prompts_list, prompts_search
from prompts.services import prompt_create

SNIPPET_CHARS = 80
# Ids are what people copy from a table: their columns never shrink (others wrap or shorten).
PROMPT_ID_WIDTH = len("ps_") + 24
RUN_ID_WIDTH = len("rs_") + 32


def when(moment: datetime | None) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") if moment else "—"


def truncate(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def total_text(page: Page) -> str:
    """'230', or '1,000+' when the count stopped early."""
    return f"{page.total:,}" + ("" if page.total_exact else "+")


def page_caption(page: Page) -> str | None:
    """'showing 51-100 of 230; use --offset for more' when the page is not the whole result."""
    if page.offset == 0 and not page.has_next:
        return None
    first, last = page.offset + 1, page.offset + len(page.items)
    more = "; use --offset for more" if page.has_next else ""
    return f"showing {first}-{last} of {total_text(page)}{more}"


def add_page_options(parser, *, what: str) -> None:
    parser.add_argument("--limit", type=int, default=50, help=f"how many {what} to show (default 50)")
    parser.add_argument("--offset", type=int, default=0, help=f"skip this many {what} first")
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")


def snippet(text: str, query: str, *, width: int = SNIPPET_CHARS) -> Text:
    """The part of `text` around the first match of `query`, every match highlighted."""
    flat = " ".join(text.split())
    match = re.search(re.escape(query), flat, re.IGNORECASE)
    start = 0 if match is None else max(0, min(match.start() - width // 3, len(flat) - width))
    part = flat[start : start + width]
    shown = Text(("…" if start else "") + part + ("…" if start + width < len(flat) else ""))
    shown.highlight_regex(re.compile(re.escape(query), re.IGNORECASE), style="bold yellow")
    return shown


def _create_prompt(ctx, options):
    prompt = prompt_create(
        user=ctx.user,
        prompt_text=options["text"],
        video_dir=options["video_dir"],
        name=options["name"] or "",
        negative_prompt=options["negative"] or "",
        model_type=options["model"],
        smart_name_now=True,
    )
    if options["json"]:
        ctx.json({**prompt_to_dict(prompt), "created": prompt.was_created})
    elif prompt.was_created:
        ctx.print(f'Created prompt {prompt.id} with name "{prompt.name}"')
    else:
        ctx.print(f'Prompt {prompt.id} ("{prompt.name}") already exists with this text and these videos.')


def _list_prompts(ctx, options):
    page = prompts_list(user=ctx.user, model_type=options["model"], limit=options["limit"], offset=options["offset"])
    if options["json"]:
        ctx.json(page.to_dict(prompt_to_dict))
        return
    table = Table(title=f"Prompts ({total_text(page)})", caption=page_caption(page))
    table.add_column("ID", no_wrap=True, min_width=PROMPT_ID_WIDTH)
    for column in ("Name", "Model", "Prompt", "Owner", "Created"):
        table.add_column(column)
    for prompt in page.items:
        table.add_row(
            prompt.id,
            prompt.name,
            prompt.model_type,
            truncate(prompt.prompt_text, 60),
            prompt.owner.get_username(),
            when(prompt.created_at),
        )
    ctx.print(table)


def _search(ctx, options):
    query = options["query"]
    page = prompts_search(
        user=ctx.user, query=query, model_type=options["model"], limit=options["limit"], offset=options["offset"]
    )
    if options["json"]:
        ctx.json({"query": query.strip(), **page.to_dict(prompt_to_dict)})
        return
    if not page.total:
        ctx.print(f"No prompts match {query.strip()!r}.")
        return
    table = Table(title=f"{total_text(page)} prompt(s) match {query.strip()!r}", caption=page_caption(page))
    table.add_column("ID", no_wrap=True, min_width=PROMPT_ID_WIDTH)
    for column in ("Name", "Prompt", "Created"):
        table.add_column(column)
    for prompt in page.items:
        name = Text(prompt.name)
        name.highlight_regex(re.compile(re.escape(query.strip()), re.IGNORECASE), style="bold yellow")
        table.add_row(prompt.id, name, snippet(prompt.prompt_text, query.strip()), when(prompt.created_at))
    ctx.print(table)


def _sample_inputs(ctx, options):
    written = write_scene(options["dir"], frames=options["frames"])
    folder = written["color"].parent
    ctx.print(f"Wrote {', '.join(path.name for path in written.values())} to {folder}")
    ctx.print(f'Try: python manage.py cosmos create prompt "{SAMPLE_PROMPT}" {folder}')


def register(cli) -> None:
    create = {"group": "create", "group_help": "create prompts"}
    listing = {"group": "list", "group_help": "list prompts or runs"}

    p = cli.command("prompt", _create_prompt, help="create a prompt from text and a video folder", **create)
    p.add_argument("text", metavar="PROMPT_TEXT", help="what the generated video should show")
    p.add_argument("video_dir", metavar="VIDEO_DIR", help="folder with color.mp4 [depth.mp4] [segmentation.mp4]")
    p.add_argument("-n", "--name", help="a name for the prompt (default: made from the text)")
    p.add_argument("--negative", help="negative prompt (default: NVIDIA's)")
    p.add_argument("--model", default=ModelType.TRANSFER, help=f"model type ({', '.join(ModelType.values)})")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")

    p = cli.command("prompts", _list_prompts, help="list prompts, newest first", **listing)
    p.add_argument("--model", help=f"only this model type ({', '.join(ModelType.values)})")
    add_page_options(p, what="prompts")

    p = cli.command("search", _search, help="find prompts whose text or name contains QUERY (any case)")
    p.add_argument("query", metavar="QUERY")
    p.add_argument("--model", help="only this model type")
    add_page_options(p, what="prompts")

    p = cli.command("sample-inputs", _sample_inputs, help="write a small synthetic scene (color, depth, segmentation)")
    p.add_argument("dir", metavar="DIR", help="folder to write into (created; must not hold the videos yet)")
    p.add_argument("--frames", type=int, default=121, help="frames per video (default 121, one Cosmos clip)")
