"""Prompt list and search at 100,000 prompts, and prompt creation, timed through the service layer.

Each search is compared with a plain full-table `LIKE '%q%'` scan (ILIKE on PostgreSQL, with
its indexes switched off) over text and name, measured in the same run on the same rows.

    python bench/search.py                      # SQLite, in a temporary data dir
    DATABASE_URL=postgres://... python bench/search.py
    python bench/search.py --prompts 20000 --repeat 10

The benchmark creates its own test database (Django's `test_` prefix) and drops it afterwards.
Goals (issue 2): list and search under 50 ms median; create under 100 ms median.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cosmosproject.settings")
# A data dir of its own unless one is given, removed at the end (it holds the 100k-prompt database).
OWN_DATA_DIR = None if os.environ.get("COSMOS_DATA_DIR") else tempfile.mkdtemp(prefix="cosmos-bench-search-")
if OWN_DATA_DIR:
    os.environ["COSMOS_DATA_DIR"] = OWN_DATA_DIR

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import setup_databases, teardown_databases  # noqa: E402

SUBJECTS = "city street harbour forest desert canyon lighthouse bridge tower market temple train robot dragon".split()
ADJECTIVES = "futuristic ancient rainy foggy neon golden frozen abandoned crowded quiet misty burning".split()
ACTIONS = "glows under reflects across sits beside rises above fades into stretches along".split()
PLACES = "the ocean a valley the mountains a river the skyline an old quarter the coast a wide plain".split(" ")
TIMES = "dawn dusk night noon sunset a storm the blue hour midnight".split(" ")
STYLES = [
    "cinematic lighting, shallow depth of field",
    "shot on 35mm film, soft grain",
    "volumetric fog and long shadows",
    "anime style, vivid colours",
    "photorealistic, overcast sky",
    "wide angle, slow dolly shot",
]
NAME_WORDS = "study take variant draft final alt pass look".split()
OWNERS = 20
QUERIES = {
    "search: common word": "city",
    "search: phrase": "neon lights",
    "search: rare phrase": "red balloon",
    "search: no match": "xylophone",
    "search: 2 chars (LIKE)": "zq",
}


def prompt_text(rng: random.Random, index: int) -> str:
    text = (
        f"A {rng.choice(ADJECTIVES)} {rng.choice(SUBJECTS)} {rng.choice(ACTIONS)} {rng.choice(PLACES)} "
        f"at {rng.choice(TIMES)}, {rng.choice(STYLES)}"
    )
    if index % 10 == 0:
        text += ", neon lights flicker"
    if index % 1000 == 7:
        text += ", a red balloon drifts by"
    return text


def populate(count: int, users) -> None:
    from prompts.models import Prompt

    rng = random.Random(2)
    color = {"path": "inputs/x.mp4", "sha256": "0" * 64, "size": 1_000_000, "width": 1280, "height": 704,
             "fps": 24.0, "frames": 121, "codec": "h264", "duration": 5.042}
    batch = []
    for index in range(count):
        batch.append(
            Prompt(
                id=f"ps_{uuid.UUID(int=rng.getrandbits(128)).hex[:24]}",
                owner=users[index % len(users)],
                name=f"{rng.choice(SUBJECTS)}_{rng.choice(NAME_WORDS)}_{index}",
                prompt_text=prompt_text(rng, index),
                inputs={"color": color, "depth": color},
            )
        )
        if len(batch) == 5000:
            Prompt.objects.bulk_create(batch)
            batch = []
    Prompt.objects.bulk_create(batch)
    with connection.cursor() as cursor:
        # What autovacuum does on a live PostgreSQL (and lets counts use index-only scans).
        cursor.execute("VACUUM ANALYZE prompts_prompt" if connection.vendor == "postgresql" else "ANALYZE")


def timed(fn, repeat: int) -> tuple[list[float], object]:
    fn()  # warm: caches, plans
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - start) * 1000)
    return times, result


def like_scan(query: str):
    """The baseline: every row's text and name compared, no index."""
    pattern = f"%{query}%"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET enable_bitmapscan = off")
            cursor.execute("SET enable_indexscan = off")
            cursor.execute(
                "SELECT id FROM prompts_prompt WHERE prompt_text ILIKE %s OR name ILIKE %s", [pattern, pattern]
            )
            rows = cursor.fetchall()
            cursor.execute("RESET enable_bitmapscan")
            cursor.execute("RESET enable_indexscan")
        else:
            cursor.execute(
                "SELECT id FROM prompts_prompt WHERE prompt_text LIKE %s OR name LIKE %s", [pattern, pattern]
            )
            rows = cursor.fetchall()
    return rows


def bench_create(user, repeat: int) -> list[float]:
    from prompts.samples import write_scene
    from prompts.services import prompt_create

    scene = settings.DATA_DIR / "bench-scene"
    if not (scene / "color.mp4").exists():
        write_scene(scene)
    counter = iter(range(10**6))
    times, _ = timed(
        lambda: prompt_create(user=user, prompt_text=f"A bench prompt number {next(counter)}", video_dir=scene), repeat
    )
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prompts", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()

    if connection.vendor == "sqlite":
        # A file like the real one (WAL, page cache), not Django's default in-memory test database.
        connection.settings_dict["TEST"]["NAME"] = str(settings.DATA_DIR / "bench.sqlite3")
    old = setup_databases(verbosity=0, interactive=False)
    try:
        from prompts.selectors import prompts_list, prompts_search

        User = get_user_model()
        users = [User.objects.create_user(username=f"user{i}") for i in range(OWNERS)]
        staff = User.objects.create_user(username="staff", is_staff=True)
        start = time.perf_counter()
        populate(args.prompts, users)
        fill_seconds = time.perf_counter() - start
        version = connection.pg_version if connection.vendor == "postgresql" else sqlite3.sqlite_version
        print(f"database: {connection.vendor} {version} | prompts: {args.prompts:,} "
              f"(inserted with the search index in {fill_seconds:.1f} s) | repeats: {args.repeat}")
        columns = ("median ms", 10), ("p95 ms", 9), ("total", 9), ("LIKE scan ms", 14), ("matches", 9), ("speed-up", 10)
        print(f"{'operation':<34}" + "".join(f"{title:>{width}}" for title, width in columns))

        def row(label, times, total, baseline=None, matches=None):
            median = statistics.median(times)
            p95 = sorted(times)[int(len(times) * 0.95) - 1]
            total = f"{total:,}" if isinstance(total, int) else total
            extra = ""
            if baseline is not None:
                base = statistics.median(baseline)
                extra = f"{base:>14.1f}{matches:>9,}{base / median:>9.1f}x"
            print(f"{label:<34}{median:>10.1f}{p95:>9.1f}{total:>9}{extra}")

        for label, kwargs in (
            ("list: page 1, staff (all rows)", {"user": staff}),
            ("list: page 1, one user", {"user": users[3]}),
            ("list: page 1, model filter", {"user": staff, "model_type": "transfer"}),
            ("list: page at offset 10,000", {"user": staff, "offset": 10_000}),
        ):
            times, page = timed(lambda kwargs=kwargs: prompts_list(limit=50, **kwargs), args.repeat)
            row(label, times, page.total)
        for label, query in QUERIES.items():
            baseline, rows = timed(lambda query=query: like_scan(query), args.repeat)
            times, page = timed(lambda query=query: prompts_search(user=staff, query=query, limit=50), args.repeat)
            # The total is exact up to the cap and a lower bound past it; the scan counts everything.
            assert page.total == len(rows) if page.total_exact else page.total < len(rows), (query, page.total)
            row(label, times, f"{page.total:,}" + ("" if page.total_exact else "+"), baseline, len(rows))
        times, page = timed(lambda: prompts_search(user=users[3], query="city", limit=50), args.repeat)
        row("search: common word, one user", times, page.total)

        settings.COSMOS["SMART_NAMES"] = False  # the instant name; the smart one is a background task
        times = bench_create(users[0], max(10, args.repeat))
        row("create prompt (3 small videos)", times, len(times))
    finally:
        teardown_databases(old, verbosity=0)
        if OWN_DATA_DIR:
            shutil.rmtree(OWN_DATA_DIR, ignore_errors=True)


if __name__ == "__main__":
    main()
