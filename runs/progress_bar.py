"""A run's progress as one percentage for the progress bars of the pages.

`Run.progress` says the stage and, during the sampling loop, the steps or clips done
(logs.parsing.progress_from_line). The bar gives each stage its share of the run.
"""

from __future__ import annotations

# Where each stage of a run (logs.parsing.STAGES) starts on the progress bar, in percent. The
# sampling loop is most of a run's time, so it gets most of the bar; the page's script uses the
# same table (`progress_scale()`, handed over by the run page).
STAGE_START = {
    "args": 1, "loading_model": 3, "preprocessing": 15, "text_encoding": 20, "generation": 25,
    "diffusion": 25, "vae_decode": 90, "guardrail": 95, "saved": 100, "completed": 100,
}
LOOP_START, LOOP_END = 25, 90  # the clips (Transfer 1) or steps (Transfer 2.5) bar spans these


def overall_percent(progress: dict) -> int:
    """How far a run is, 0-100, from its latest progress (stage, and steps or clips done)."""
    progress = progress or {}
    done, total = progress.get("step"), progress.get("steps")
    if not total:
        done, total = progress.get("clip"), progress.get("clips")
    try:
        if total:
            return int(LOOP_START + (LOOP_END - LOOP_START) * min(1.0, float(done or 0) / float(total)))
    except (TypeError, ValueError, ZeroDivisionError):
        pass
    return STAGE_START.get(progress.get("stage"), 0)


def progress_scale() -> dict:
    """The table above for static/js/runpage.js, which moves the bar between page loads."""
    return {"stages": STAGE_START, "loop_start": LOOP_START, "loop_end": LOOP_END}
