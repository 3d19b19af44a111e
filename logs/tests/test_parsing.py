"""Parsing Cosmos container lines: loguru, tracebacks, tqdm, glog, ISO, plain; and progress stages."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from logs.parsing import STAGES, LineParser, LogEntry, parse_line, progress_from_line

DATA = Path(__file__).parent / "data"
LOGURU = (
    "[09-08 01:15:45|INFO|cosmos_transfer1/diffusion/inference/transfer.py:187:parse_arguments] "
    "final args: {'num_steps': 35}"
)


def parse_file(name: str) -> list[LogEntry]:
    parser = LineParser(year=2025)
    lines = (DATA / name).read_text().splitlines()
    return [parser.parse(line, lineno=number) for number, line in enumerate(lines, start=1)]


def test_loguru_line_gives_time_level_source_and_message():
    entry = parse_line(LOGURU, year=2025)
    assert entry.timestamp == datetime(2025, 9, 8, 1, 15, 45)
    assert entry.level == "INFO"
    assert entry.source == "cosmos_transfer1/diffusion/inference/transfer.py"
    assert entry.source_line == 187
    assert entry.function == "parse_arguments"
    assert entry.message == "final args: {'num_steps': 35}"
    assert entry.raw == LOGURU
    assert entry.progress is False


@pytest.mark.parametrize(
    ("word", "level"),
    [("DEBUG", "DEBUG"), ("WARNING", "WARNING"), ("ERROR", "ERROR"), ("CRITICAL", "CRITICAL"),
     ("SUCCESS", "INFO"), ("TRACE", "DEBUG"), ("WARNING ", "WARNING")],
)
def test_loguru_levels_fold_onto_five(word, level):
    assert parse_line(f"[01-02 03:04:05|{word}|a.py:1:f] x").level == level


def test_loguru_fraction_of_second_is_kept():
    assert parse_line("[01-02 03:04:05.250|INFO|a.py:1:f] x", year=2024).timestamp == datetime(2024, 1, 2, 3, 4, 5, 250000)


def test_impossible_date_keeps_the_line_without_a_time():
    entry = parse_line("[02-30 03:04:05|ERROR|a.py:1:f] boom")
    assert entry.timestamp is None
    assert (entry.level, entry.message) == ("ERROR", "boom")


def test_rank_prefixed_traceback_and_oom_are_errors_and_end_at_the_exception_line():
    entries = parse_file("oom.log")
    by_text = {entry.raw: entry for entry in entries}
    traceback = [e for e in entries if e.raw.startswith("[rank0]:")]
    assert len(traceback) == 6
    assert {e.level for e in traceback} == {"ERROR"}
    oom = by_text[next(raw for raw in by_text if "OutOfMemoryError" in raw)]
    assert oom.level == "ERROR"
    # torchrun's own traceback, glog error line, and the ChildFailedError line are errors too.
    assert by_text[next(raw for raw in by_text if raw.startswith("E0908"))].level == "ERROR"
    assert by_text["Traceback (most recent call last):"].level == "ERROR"
    assert by_text["    sys.exit(main())"].level == "ERROR"
    assert by_text["torch.distributed.elastic.multiprocessing.errors.ChildFailedError:"].level == "ERROR"
    # After the exception line the traceback is over: the banner lines are plain.
    assert by_text["============================================================"].level == "INFO"
    assert by_text["cosmos_transfer1/diffusion/inference/transfer.py FAILED"].level == "INFO"


def test_indented_line_outside_a_traceback_is_not_an_error():
    parser = LineParser()
    assert parser.parse("    just indented output").level == "INFO"
    parser.parse("Traceback (most recent call last):")
    parser.parse("ValueError: bad spec")
    assert parser.parse("    after the traceback").level == "INFO"


def test_chained_traceback_stays_error():
    parser = LineParser()
    lines = [
        "Traceback (most recent call last):",
        '  File "a.py", line 1, in <module>',
        "KeyError: 'x'",
        "",
        "During handling of the above exception, another exception occurred:",
        "",
        "Traceback (most recent call last):",
        '  File "a.py", line 3, in <module>',
        "    raise ValueError('y')",
        "ValueError: y",
    ]
    levels = [parser.parse(line).level for line in lines]
    assert levels == ["ERROR", "ERROR", "ERROR", "INFO", "ERROR", "INFO", "ERROR", "ERROR", "ERROR", "ERROR"]


def test_a_loguru_line_closes_an_open_traceback():
    parser = LineParser()
    parser.parse("Traceback (most recent call last):")
    parser.parse(LOGURU)
    assert parser.parse("  indented after a log line").level == "INFO"


@pytest.mark.parametrize(
    "line",
    ["  0%|          | 0/1 [00:00<?, ?it/s]", "Generating samples: 40%|████      | 14/35 [03:08<04:42, 13.43s/it]",
     "100%|██████████| 1/1 [06:24<00:00, 384.20s/it]"],
)
def test_tqdm_bars_are_info_progress(line):
    entry = parse_line(line)
    assert (entry.level, entry.progress) == ("INFO", True)


def test_tqdm_redrawn_with_carriage_returns_shows_its_last_frame():
    entry = parse_line("  0%|   | 0/35 [00:00<?]\r  3%|   | 1/35 [00:13<07:31]\r")
    assert entry.raw == "  3%|   | 1/35 [00:13<07:31]"
    assert entry.progress


@pytest.mark.parametrize(
    ("line", "level"),
    [
        ("just some output", "INFO"),
        ("WARNING: the prompt is long", "WARNING"),
        ("/x/y.py:12: UserWarning: TypedStorage is deprecated", "WARNING"),
        ("transfer.py: error: the following arguments are required: --controlnet_specs", "ERROR"),
        ("docker: Error response from daemon: No such image", "ERROR"),
        ("Error: boom", "ERROR"),
        ("FileNotFoundError: checkpoints/nvidia/Cosmos-Transfer1-7B/base_model.pt", "ERROR"),
        ("torch.OutOfMemoryError: CUDA out of memory.", "ERROR"),
        ("we saw 0 errors today", "INFO"),
        ("DEBUG mode on", "DEBUG"),
        ("FATAL: cannot continue", "CRITICAL"),
        ("W0908 01:15:50.100000 12 torch/distributed/run.py:793] Setting OMP_NUM_THREADS", "WARNING"),
        ("I0908 01:15:50.100000 12 torch/x.py:1] started", "INFO"),
    ],
)
def test_plain_lines_take_the_level_they_name(line, level):
    assert parse_line(line).level == level


def test_glog_line_has_a_time():
    entry = parse_line("E0908 01:16:52.377000 140 torch/api.py:869] failed (exitcode: 1)", year=2025)
    assert entry.timestamp == datetime(2025, 9, 8, 1, 16, 52, 377000)
    assert entry.message == "140 torch/api.py:869] failed (exitcode: 1)"


@pytest.mark.parametrize(
    ("line", "level", "message", "when"),
    [
        ("2024-01-01 12:00:00 [INFO] Starting inference process", "INFO", "Starting inference process",
         datetime(2024, 1, 1, 12)),
        ("2024-01-01 12:00:00,123 WARNING cosmos: slow", "WARNING", "cosmos: slow", datetime(2024, 1, 1, 12, 0, 0, 123000)),
        ("2024-01-01T12:00:00Z ERROR: disk full", "ERROR", "disk full", datetime(2024, 1, 1, 12)),
        ("2024-01-01 12:00:00 upload done", "INFO", "upload done", datetime(2024, 1, 1, 12)),
    ],
)
def test_iso_time_prefix_with_or_without_level(line, level, message, when):
    entry = parse_line(line)
    assert (entry.level, entry.message, entry.timestamp) == (level, message, when)


def test_untimed_lines_inherit_the_previous_time():
    parser = LineParser(year=2025)
    parser.parse(LOGURU)
    assert parser.parse("  0%|   | 0/1").timestamp == datetime(2025, 9, 8, 1, 15, 45)


def test_terminal_colour_codes_are_removed():
    entry = parse_line("\x1b[32m[09-08 01:15:45|INFO|a.py:1:f]\x1b[0m hello")
    # Colour codes before the bracket are gone, so the line parses as loguru.
    assert (entry.source, entry.message) == ("a.py", "hello")


def test_line_number_and_offset_are_recorded():
    entry = LineParser().parse("x\n", lineno=7, offset=120)
    assert (entry.lineno, entry.offset, entry.raw) == (7, 120, "x")


def test_entry_built_by_hand_like_the_seed():
    entry = LogEntry(timestamp=datetime(2024, 1, 1), level="warn", message="Custom", source="inference.py", source_line=42)
    assert entry.level == "WARNING"
    assert entry.raw == "Custom"
    assert entry.to_dict()["timestamp"] == "2024-01-01T00:00:00"


def test_progress_names_every_stage_of_a_successful_run_in_log_order():
    lines = (DATA / "success.log").read_text().splitlines()
    stages = [info["stage"] for info in map(progress_from_line, lines) if info]
    # The clip bar (stage "generation") wraps each clip's sampling and decoding, so it shows up
    # again when the clip is done.
    assert stages == [
        "args", "loading_model", "preprocessing", "text_encoding", "generation", "generation",
        "diffusion", "diffusion", "diffusion", "vae_decode", "vae_decode", "generation",
        "guardrail", "saved", "saved",
    ]
    assert set(stages) == {name for name, _label in STAGES}


def test_progress_reads_steps_clips_and_saved_path():
    step = progress_from_line("Generating samples: 40%|████      | 14/35 [03:08<04:42, 13.43s/it]")
    assert step == {"stage": "diffusion", "label": "Diffusion sampling", "stage_index": 6, "stage_count": 9,
                    "step": 14, "steps": 35, "percent": 40}
    clip = progress_from_line("  0%|          | 0/2 [00:00<?, ?it/s]")
    assert (clip["stage"], clip["clip"], clip["clips"]) == ("generation", 0, 2)
    saved = progress_from_line("[09-08 01:23:20|INFO|t.py:360:demo] Saved video to outputs/rs_x/output.mp4")
    assert (saved["stage"], saved["path"]) == ("saved", "outputs/rs_x/output.mp4")
    assert progress_from_line("[09-08 01:16:43|INFO|w.py:402:e] Starting T5 compute")["stage"] == "text_encoding"


@pytest.mark.parametrize("line", ["hello", "[09-08 01:23:10|INFO|w.py:690:generate] Finish generation", "50%| broken", ""])
def test_lines_without_progress_give_none(line):
    assert progress_from_line(line) is None
