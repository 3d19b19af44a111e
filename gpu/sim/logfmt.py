"""Log lines as the Cosmos programs print them: loguru's `[MM-DD HH:mm:ss|LEVEL|file:line:function]`,
tqdm-style progress, and tracebacks prefixed `[rank0]:` as torchrun relays them."""

from __future__ import annotations

import sys
import time

TRANSFER = "cosmos_transfer1/diffusion/inference/transfer.py"
PIPELINE = "cosmos_transfer1/diffusion/inference/world_generation_pipeline.py"
GUARDRAIL = "cosmos_transfer1/auxiliary/guardrail/common/presets.py"
UPSAMPLER = "cosmos_transfer1/auxiliary/upsampler/model/upsampler.py"


def log(level: str, message: str, *, where: str = TRANSFER, line: int = 0, function: str = "<module>") -> None:
    stamp = time.strftime("%m-%d %H:%M:%S")
    sys.stdout.write(f"[{stamp}|{level}|{where}:{line}:{function}] {message}\n")
    sys.stdout.flush()


def progress(done: int, total: int, elapsed: float, label: str = "") -> None:
    """One tqdm line per step (a real bar redraws with \\r; one line per step reads better in logs)."""
    width = 10
    filled = int(width * done / total) if total else width
    bar = "█" * filled + " " * (width - filled)
    rate = elapsed / done if done else 0.0
    remaining = rate * (total - done)
    prefix = f"{label}: " if label else ""
    sys.stdout.write(
        f"{prefix}{100 * done // max(total, 1):3d}%|{bar}| {done}/{total} "
        f"[{_clock(elapsed)}<{_clock(remaining)}, {rate:.2f}s/it]\n"
    )
    sys.stdout.flush()


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60:02d}:{seconds % 60:02d}"


def traceback(frames: list[tuple[str, int, str, str]], error: str) -> None:
    """A Python traceback on stderr, each line prefixed `[rank0]: ` as torchrun shows a worker's."""
    lines = ["Traceback (most recent call last):"]
    for path, line, function, code in frames:
        lines.append(f'  File "{path}", line {line}, in {function}')
        lines.append(f"    {code}")
    lines.extend(error.splitlines())
    sys.stdout.flush()
    sys.stderr.write("".join(f"[rank0]: {line}\n" for line in lines))
    sys.stderr.flush()
