"""Stand-in for `cosmos_transfer1/diffusion/inference/transfer.py` (run through `torchrun`).

Same flags, same spec rules (control keys, weights, `input_video_path` when sigma_max < 80,
plain keys overriding flags that were not given), same stage order and log lines, same outputs
(`output.mp4` + `output.txt`, `<hint>_input_control_0.mp4` for a control computed from the
input, `video_<N>/output.mp4` + `prompt.txt` in batch mode, 4x size with the `upscale`
control), same exit codes. Videos keep the input's frame count and size (4x for upscale).
Pace and injected failures come from gpu.sim.config.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from gpu.sim.config import SimConfig, pause
from gpu.sim.logfmt import GUARDRAIL, PIPELINE, log, progress, traceback

HINT_KEYS = ("vis", "seg", "edge", "depth", "keypoint", "upscale", "hdmap", "lidar")
CHECKPOINTS = {
    "base": "nvidia/Cosmos-Transfer1-7B/base_model.pt",
    "vis": "nvidia/Cosmos-Transfer1-7B/vis_control.pt",
    "edge": "nvidia/Cosmos-Transfer1-7B/edge_control.pt",
    "depth": "nvidia/Cosmos-Transfer1-7B/depth_control.pt",
    "seg": "nvidia/Cosmos-Transfer1-7B/seg_control.pt",
    "keypoint": "nvidia/Cosmos-Transfer1-7B/keypoint_control.pt",
    "upscale": "nvidia/Cosmos-Transfer1-7B/4kupscaler_control.pt",
    "hdmap": "nvidia/Cosmos-Transfer1-7B-Sample-AV/hdmap_control.pt",
    "lidar": "nvidia/Cosmos-Transfer1-7B-Sample-AV/lidar_control.pt",
}
SCRIPT = "/workspace/cosmos_transfer1/diffusion/inference/transfer.py"
OOM = (
    "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of "
    "79.10 GiB of which 1.06 GiB is free. Process {pid} has 78.03 GiB memory in use. Of the allocated memory "
    "74.31 GiB is allocated by PyTorch, and 2.22 GiB is reserved by PyTorch but unallocated. If reserved but "
    "unallocated memory is large try setting PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True to avoid "
    "fragmentation.  See documentation for Memory Management  "
    "(https://pytorch.org/docs/stable/notes/cuda.html#environment-variables)"
)


class Fatal(Exception):
    """Ends the program like an uncaught Python exception: traceback, exit 1."""

    def __init__(self, error: str, frames: list[tuple[str, int, str, str]] | None = None):
        super().__init__(error)
        self.error = error
        self.frames = frames or [(SCRIPT, 404, "<module>", "demo(args)")]


def parse_arguments(argv: list[str]) -> tuple[argparse.Namespace, set[str]]:
    parser = argparse.ArgumentParser(description="Control to world generation demo script")
    parser.add_argument("--prompt", type=str, default="")
    parser.add_argument("--negative_prompt", type=str, default="")
    parser.add_argument("--input_video_path", type=str, default="")
    parser.add_argument("--num_input_frames", type=int, default=1)
    parser.add_argument("--sigma_max", type=float, default=70.0)
    parser.add_argument("--blur_strength", type=str, default="medium",
                        choices=["very_low", "low", "medium", "high", "very_high"])
    parser.add_argument("--canny_threshold", type=str, default="medium",
                        choices=["very_low", "low", "medium", "high", "very_high"])
    parser.add_argument("--controlnet_specs", type=str, required=True)
    parser.add_argument("--checkpoint_dir", type=str, default="checkpoints")
    parser.add_argument("--video_save_name", type=str, default="output")
    parser.add_argument("--video_save_folder", type=str, default="outputs/")
    parser.add_argument("--batch_input_path", type=str, default=None)
    parser.add_argument("--batch_size", type=int, default=1)
    parser.add_argument("--num_steps", type=int, default=35)
    parser.add_argument("--guidance", type=float, default=5)
    parser.add_argument("--fps", type=int, default=24)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--num_gpus", type=int, default=1)
    for flag in ("offload_diffusion_transformer", "offload_text_encoder_model", "offload_guardrail_models",
                 "upsample_prompt", "offload_prompt_upsampler", "use_distilled"):
        parser.add_argument(f"--{flag}", action="store_true")
    args = parser.parse_args(argv)
    given = {a[2:].split("=", 1)[0] for a in argv if a.startswith("--")}
    return args, given


def load_controlnet_specs(args: argparse.Namespace, given: set[str]) -> dict:
    """Read the spec: hint objects become controls, plain keys override flags not given explicitly."""
    try:
        with open(args.controlnet_specs) as handle:
            spec = json.load(handle)
    except FileNotFoundError:
        raise Fatal(f"FileNotFoundError: [Errno 2] No such file or directory: '{args.controlnet_specs}'") from None
    except json.JSONDecodeError as exc:
        raise Fatal(f"json.decoder.JSONDecodeError: {exc}") from None
    controls = {}
    for key, value in spec.items():
        if isinstance(value, dict):
            if key not in HINT_KEYS:
                raise Fatal(f"ValueError: Invalid hint_key: {key}. Must be one of {list(HINT_KEYS)}")
            if "control_weight" not in value:
                log("WARNING", f"No control weight specified for {key}. Setting to 0.5.", line=120,
                    function="load_controlnet_specs")
                value = {**value, "control_weight": 0.5}
            weight = float(value["control_weight"])
            if weight < 0:
                raise Fatal(f"ValueError: control_weight for {key} must be non-negative, got {weight}")
            controls[key] = value
        elif key not in given and hasattr(args, key):
            setattr(args, key, type(getattr(args, key))(value) if getattr(args, key) is not None else value)
    if not controls:
        raise Fatal("ValueError: No valid control inputs in controlnet_specs")
    return controls


def batch_items(args: argparse.Namespace, controls: dict) -> list[dict]:
    if not args.batch_input_path:
        return [{"visual_input": args.input_video_path, "prompt": args.prompt, "controls": controls}]
    items = []
    try:
        lines = Path(args.batch_input_path).read_text().splitlines()
    except FileNotFoundError:
        raise Fatal(f"FileNotFoundError: [Errno 2] No such file or directory: '{args.batch_input_path}'") from None
    for number, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise Fatal(f"json.decoder.JSONDecodeError: line {number + 1} of {args.batch_input_path}: {exc}") from None
        merged = {key: dict(value) for key, value in controls.items()}
        for key, override in (data.get("control_overrides") or {}).items():
            if key in merged:
                merged[key].update(override)
            else:
                log("WARNING", f"Ignoring unknown control key in override: {key}", line=268, function="demo")
        items.append({"visual_input": data.get("visual_input", ""), "prompt": data.get("prompt", ""), "controls": merged})
    return items


def validate_inputs(args: argparse.Namespace, items: list[dict]) -> None:
    for item in items:
        if args.sigma_max < 80 and not item["visual_input"]:
            raise Fatal("ValueError: input_video_path is required when sigma_max < 80 (the input video is noised, "
                        "not replaced)")
        for path in [item["visual_input"], *(c.get("input_control") for c in item["controls"].values())]:
            if path and not os.path.exists(path):
                raise Fatal(f"FileNotFoundError: [Errno 2] No such file or directory: '{path}'",
                            [(SCRIPT, 404, "<module>", "demo(args)"), (SCRIPT, 285, "demo", "read_video_or_image_into_frames_BCTHW(...)")])


def check_checkpoints(args: argparse.Namespace, hints: list[str], missing: bool) -> None:
    for key in ["base", *hints]:
        path = os.path.join(args.checkpoint_dir, CHECKPOINTS[key])
        if missing or not os.path.exists(path):
            raise Fatal(
                f"FileNotFoundError: [Errno 2] No such file or directory: '{path}'",
                [(SCRIPT, 404, "<module>", "demo(args)"), (SCRIPT, 198, "demo", "pipeline = DiffusionControl2WorldGenerationPipeline("),
                 ("/workspace/" + PIPELINE, 151, "__init__", "self._load_model()"),
                 ("/usr/local/lib/python3.12/dist-packages/torch/serialization.py", 1425, "load", "with _open_file_like(f, \"rb\") as opened_file:")],
            )


def generate(args, item: dict, index: int, folder: Path, cfg: SimConfig, batch: bool) -> bool:
    """One clip: the stages of the real pipeline, then the videos. False when the guardrail blocks it."""
    failure = cfg.failure_for(job_id=os.environ.get("COSMOS_SIM_JOB", ""), texts=(item["prompt"],))
    log("INFO", "Running guardrail checks on all prompts", where=PIPELINE, line=626, function="_run_guardrail_on_prompt_with_offload")
    if failure == "guardrail_blocked":
        log("CRITICAL", f"Input text prompt {index + 1} is not safe", where=GUARDRAIL, line=82, function="run_text_guardrail")
        log("CRITICAL", "Prompt blocked by guardrail (Blocklist: the prompt contains a blocked word)", where=PIPELINE, line=631, function="_run_guardrail_on_prompt_with_offload")
        return False
    log("INFO", "Starting T5 compute", where=PIPELINE, line=412, function="_run_text_embedding_on_prompt_with_offload")
    pause(0.1 * cfg.load_seconds)
    log("INFO", "Completed T5 compute", where=PIPELINE, line=418, function="_run_text_embedding_on_prompt_with_offload")
    log("INFO", "Run generation", where=PIPELINE, line=840, function="generate")
    print("  0%|          | 0/1 [00:00<?, ?it/s]", flush=True)
    log("INFO", "Starting diffusion sampling", where=PIPELINE, line=702, function="_run_model")
    started = time.monotonic()
    for step in range(1, args.num_steps + 1):
        if step == max(1, args.num_steps // 2):
            if failure == "crashed":
                raise Fatal("RuntimeError: CUDA error: an illegal memory access was encountered\nCUDA kernel errors "
                            "might be asynchronously reported at some other API call, so the stacktrace below might "
                            "be incorrect.\nFor debugging consider passing CUDA_LAUNCH_BLOCKING=1",
                            [(SCRIPT, 404, "<module>", "demo(args)"), ("/workspace/" + PIPELINE, 733, "_run_model", "latents = self.model.generate_samples_from_batch(")])
            if failure == "hang":
                while True:  # a wedged NCCL call: never returns, prints nothing
                    time.sleep(3600)
        pause(cfg.step_seconds)
        progress(step, args.num_steps, time.monotonic() - started, label="Generating samples")
    log("INFO", "Completed diffusion sampling", where=PIPELINE, line=741, function="_run_model")
    log("INFO", "Starting VAE decode", where=PIPELINE, line=745, function="_run_tokenizer_decoding")
    out_folder = folder / f"video_{index}" if batch else folder
    name = "output" if batch else args.video_save_name
    write_videos(args, item, out_folder, name)
    log("INFO", "Completed VAE decode", where=PIPELINE, line=752, function="_run_tokenizer_decoding")
    print(f"100%|██████████| 1/1 [{int(time.monotonic() - started) // 60:02d}:{int(time.monotonic() - started) % 60:02d}<00:00]", flush=True)
    log("INFO", "Finish generation", where=PIPELINE, line=874, function="generate")
    log("INFO", "Run guardrail on generated videos", where=PIPELINE, line=877, function="generate")
    video_path = out_folder / f"{name}.mp4"
    prompt_path = out_folder / ("prompt.txt" if batch else f"{name}.txt")
    prompt_path.write_text(item["prompt"])
    log("INFO", f"Saved video to {video_path}", line=381, function="demo")
    log("INFO", f"Saved prompt to {prompt_path}", line=385, function="demo")
    return True


def write_videos(args, item: dict, folder: Path, name: str) -> None:
    from gpu.sim import video  # PyAV and numpy load in ~0.3 s: only when there is a video to write

    controls = item["controls"]
    source = item["visual_input"] or next((c["input_control"] for c in controls.values() if c.get("input_control")), "")
    if not source:
        raise Fatal("ValueError: nothing to generate from: no input video and no control input")
    info = video.probe(source)
    scale = 4 if "upscale" in controls else 1
    weights = {k: v.get("control_weight") for k, v in sorted(controls.items())}
    seed_text = json.dumps([item["prompt"], weights, args.seed, args.guidance], sort_keys=True)
    outputs = {folder / f"{name}.mp4": video.generated(seed_text, info.width * scale, info.height * scale)}
    if scale > 1:
        outputs = {path: video.upscaled(effect, scale) for path, effect in outputs.items()}
    for hint, control in controls.items():
        if hint != "upscale" and not control.get("input_control") and float(control.get("control_weight", 0)) > 0:
            effect = video.CONTROL_EFFECTS[hint]
            outputs[folder / f"{hint}_input_control_0.mp4"] = video.upscaled(effect, scale) if scale > 1 else effect
    video.render(source, outputs, scale=scale)


def demo(argv: list[str]) -> int:
    args, given = parse_arguments(argv)
    cfg = SimConfig.load(Path.cwd())
    controls = load_controlnet_specs(args, given)
    log("INFO", f"final args: {vars(args)}", line=187, function="parse_arguments")
    items = batch_items(args, controls)
    failure = cfg.failure_for(job_id=os.environ.get("COSMOS_SIM_JOB", ""), texts=tuple(i["prompt"] for i in items))
    hints = sorted({hint for item in items for hint in item["controls"]})
    for hint in hints:
        log("INFO", f"Loading ctrl model from ckpt_path: {os.path.join(args.checkpoint_dir, CHECKPOINTS[hint])}",
            where=PIPELINE, line=160, function="_load_network")
    check_checkpoints(args, hints, failure == "missing_checkpoint")
    pause(cfg.load_seconds)
    validate_inputs(args, items)
    log("INFO", "running preprocessor", line=262, function="demo")
    if failure == "out_of_memory":
        raise Fatal(OOM.format(pid=os.getpid()), [
            (SCRIPT, 404, "<module>", "demo(args)"),
            (SCRIPT, 337, "demo", "videos, final_prompts = pipeline.generate("),
            ("/workspace/" + PIPELINE, 812, "generate", "video = self._run_model_with_offload("),
            ("/usr/local/lib/python3.12/dist-packages/torch/nn/modules/module.py", 1736, "_call_impl", "return forward_call(*args, **kwargs)"),
        ])
    log("INFO", f"Running batch generation with batch_size={args.batch_size}", line=301, function="demo")
    folder = Path(args.video_save_folder)
    folder.mkdir(parents=True, exist_ok=True)
    generated = [generate(args, item, i, folder, cfg, bool(args.batch_input_path)) for i, item in enumerate(items)]
    if not any(generated):
        log("CRITICAL", "Guardrail blocked generation: no video was saved.", line=352, function="demo")
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        return demo(sys.argv[1:] if argv is None else argv)
    except Fatal as exc:
        traceback(exc.frames, exc.error)
        return 1
