"""Benchmark: parse, filter and page a 100,000-line Cosmos log, against naive versions in the same run.

    python bench/logparse.py [--lines 100000]

The naive baselines are what a first version would do: strptime and a regex per format tried on
every line, lower-casing for search, `readlines()` of the whole file for a page or a tail.
Prints seconds and the ratio naive/ours (higher is better for us). Not part of the test suite.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from logs.files import LogFile  # noqa: E402
from logs.parsing import LineParser  # noqa: E402
from logs.selectors import log_page, log_summary  # noqa: E402
from logs.viewer import LogFilter  # noqa: E402

SOURCE = "cosmos_transfer1/diffusion/inference/world_generation_pipeline.py"


def make_lines(count: int, seed: int = 5) -> list[str]:
    """A log shaped like a long batch run: mostly loguru lines, tqdm bars, some warnings and tracebacks."""
    rng = random.Random(seed)
    lines = []
    for i in range(count):
        second = i // 200
        stamp = f"[09-08 {second // 3600 % 24:02d}:{second // 60 % 60:02d}:{second % 60:02d}"
        roll = rng.random()
        if roll < 0.70:
            level = "DEBUG" if rng.random() < 0.3 else "INFO"
            lines.append(f"{stamp}|{level}|{SOURCE}:{rng.randint(1, 900)}:_run_model] sampling step {i % 35} of clip {i // 35}")
        elif roll < 0.85:
            done = i % 35
            lines.append(f"Generating samples: {done * 100 // 35}%|####      | {done}/35 [03:08<04:42, 13.43s/it]")
        elif roll < 0.95:
            lines.append(f"plain output from a helper script, item {i}")
        elif roll < 0.98:
            lines.append(f"{stamp}|WARNING|{SOURCE}:77:generate] guidance {rng.random():.3f} is high")
        else:
            lines.append("[rank0]: Traceback (most recent call last):")
            lines.append(f'[rank0]:   File "/workspace/{SOURCE}", line 12, in <module>')
            lines.append("[rank0]: torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB")
    return lines[:count]


# ---- naive baselines ---------------------------------------------------------------------------

NAIVE_FORMATS = [
    r"^\[(\d\d-\d\d \d\d:\d\d:\d\d)\|(\w+)\|([^:]+):(\d+):([^\]]*)\] (.*)$",
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\s+\[?(\w+)\]?\s+(.*)$",
]


def naive_parse(line: str) -> dict:
    for pattern in NAIVE_FORMATS:
        match = re.match(pattern, line)
        if match:
            stamp = match.group(1)
            when = datetime.strptime(f"2025-{stamp}", "%Y-%m-%d %H:%M:%S") if "-" in stamp[:5] else None
            return {"timestamp": when, "level": match.group(2).upper(), "message": match.groups()[-1], "raw": line}
    level = next((name for name in ("CRITICAL", "ERROR", "WARNING", "DEBUG") if name in line.upper()), "INFO")
    return {"timestamp": None, "level": level, "message": line, "raw": line}


def naive_filter(entries: list[dict], *, level: str | None = None, text: str = "", pattern: str = "") -> list[dict]:
    out = []
    for entry in entries:
        if level and entry["level"] != level:
            continue
        if text and text.lower() not in entry["raw"].lower():
            continue
        if pattern and not re.search(pattern, entry["raw"], re.IGNORECASE):
            continue
        out.append(entry)
    return out


def naive_page(path: Path, number: int, size: int) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    return [naive_parse(line) for line in lines[(number - 1) * size : number * size]]


def naive_tail(path: Path, n: int) -> list[str]:
    with open(path, encoding="utf-8") as handle:
        return handle.read().splitlines()[-n:]


# ---- measuring -----------------------------------------------------------------------------------


def best_of(function, repeat: int = 3) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def row(name: str, ours: float, naive: float | None = None) -> None:
    ratio = f"{naive / ours:8.1f}x" if naive is not None else " " * 9
    naive_text = f"{naive * 1000:10.1f} ms" if naive is not None else " " * 13
    print(f"{name:<46}{ours * 1000:10.1f} ms{naive_text}{ratio}")


def naive_viewer(path: Path, *, level: str | None = None, text: str = "", size: int = 200) -> list[dict]:
    """The last page of a (filtered) log, the first-version way: read, parse and filter it all."""
    with open(path, encoding="utf-8") as handle:
        entries = [naive_parse(line) for line in handle.read().splitlines()]
    matching = naive_filter(entries, level=level, text=text) if level or text else entries
    return matching[-size:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    count = parser.parse_args().lines
    lines = make_lines(count)
    print(f"{count:,} lines, {sum(map(len, lines)) / 1e6:.1f} MB of text")
    print(f"{'':<46}{'ours':>13}{'naive':>13}{'naive/ours':>10}")

    # -- in memory: the LogViewer/LogFilter library -------------------------------------------
    ours_parse, entries = best_of(lambda: list(map(LineParser(year=2025).parse, lines)))
    naive_parse_time, naive_entries = best_of(lambda: list(map(naive_parse, lines)))
    row("parse every line", ours_parse, naive_parse_time)

    by_level = LogFilter(levels=["ERROR"], search_text="memory")
    ours_time, ours_hits = best_of(lambda: list(by_level.apply(entries)))
    naive_time, naive_hits = best_of(lambda: naive_filter(naive_entries, level="ERROR", text="memory"))
    assert len(ours_hits) == len(naive_hits)
    row("filter parsed entries: level + text", ours_time, naive_time)

    pattern = r"step (1[0-9]|2[05]) of clip \d+7\b"
    ours_time, ours_hits = best_of(lambda: list(LogFilter(regex_pattern=pattern).apply(entries)))
    naive_time, naive_hits = best_of(lambda: naive_filter(naive_entries, pattern=pattern))
    assert len(ours_hits) == len(naive_hits)
    row("filter parsed entries: regex (time-limited)", ours_time, naive_time)

    # -- on disk: a run's execution.log ------------------------------------------------------------
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "execution.log"
        log = LogFile(path)
        start = time.perf_counter()
        for first in range(0, count, 500):
            log.append(lines[first : first + 500])
        row("append in batches of 500", time.perf_counter() - start)

        def read_all():
            offset, total = 0, 0
            while True:
                batch, offset = log.read_from(offset)
                if not batch:
                    return total
                total += len(batch)

        ours_time, total = best_of(read_all)
        assert total == count
        naive_time, _ = best_of(lambda: path.read_text().splitlines())
        row("read_from 0 to the end (websocket backlog)", ours_time, naive_time)

        ours_time, tail = best_of(lambda: log.tail(2000))
        naive_time, naive = best_of(lambda: naive_tail(path, 2000))
        assert tail == naive
        row("tail 2,000 lines (live panel opens)", ours_time, naive_time)

        everything = LogFilter()
        naive_open, naive = best_of(lambda: naive_viewer(path), repeat=1)
        start = time.perf_counter()
        summary = log_summary(log)
        page = log_page(log, log_filter=everything, number=None, size=200)
        first_open = time.perf_counter() - start
        assert [entry.raw for entry in page.items] == [entry["raw"] for entry in naive]
        row("viewer, first open: table + last page", first_open, naive_open)

        ours_time, _ = best_of(lambda: (log_summary(log), log_page(log, log_filter=everything, number=None, size=200)))
        naive_time, _ = best_of(lambda: naive_viewer(path))
        row("viewer, open again: counts + last page", ours_time, naive_time)

        middle = count // 200 // 2
        ours_time, page = best_of(lambda: log_page(log, log_filter=everything, number=middle, size=200))
        naive_time, naive = best_of(lambda: naive_page(path, middle, 200))
        assert [entry.raw for entry in page.items] == [entry["raw"] for entry in naive]
        row("viewer, a page in the middle", ours_time, naive_time)

        errors = LogFilter(levels=["ERROR"], search_text="memory")
        ours_time, page = best_of(lambda: log_page(log, log_filter=errors, number=None, size=200))
        naive_time, naive = best_of(lambda: naive_viewer(path, level="ERROR", text="memory"))
        assert page.total == summary.levels["ERROR"] // 3  # one OOM line per three-line traceback
        row(f"viewer, filtered (ERROR + text, {page.total:,} hits)", ours_time, naive_time)

        by_regex = LogFilter(regex_pattern=pattern)
        ours_time, page = best_of(lambda: log_page(log, log_filter=by_regex, number=None, size=200))
        row(f"viewer, regex ({page.total:,} hits)", ours_time)


if __name__ == "__main__":
    main()
