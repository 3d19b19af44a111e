#!/usr/bin/env python3
"""Batch prompt enhancement inside the Cosmos container (cwd /workspace, a cosmos-transfer1 checkout).

Reads [{"name", "prompt", "video_path"}] (an item may add "resolution": the video's shorter side
is scaled down to it with ffmpeg before the model sees it) and writes OUTPUT_DIR/batch_results.json:
[{"name", "original_prompt", "upsampled_prompt", "video_path", "success": true}] or, for an item
that failed, {"name", "original_prompt", "video_path", "success": false, "error"}. The model is
loaded once for the whole batch. Exit 0 when at least one item succeeded, 1 otherwise.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import traceback

# vLLM must spawn (not fork) its workers, and the upsampler expects torchelastic's variables:
# both have to be set before the import below.
os.environ.setdefault("VLLM_WORKER_MULTIPROC_METHOD", "spawn")
for _key, _value in {
    "RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1", "LOCAL_WORLD_SIZE": "1", "GROUP_RANK": "0",
    "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500", "TORCHELASTIC_RUN_ID": "none",
}.items():
    os.environ.setdefault(_key, _value)
sys.path.insert(0, os.getcwd())


def ffmpeg_exe():
    """imageio's ffmpeg (the image has imageio[ffmpeg]), else one on PATH, else None."""
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception:  # not installed, or its binary is missing
        return shutil.which("ffmpeg")


def scaled_video(video_path, resolution, folder):
    """A copy of the video whose shorter side is at most `resolution` pixels (aspect kept), or the
    video itself when no ffmpeg is at hand."""
    ffmpeg = ffmpeg_exe()
    if ffmpeg is None:
        print("WARNING: no ffmpeg in the image; the upsampler sees the video at its own size", flush=True)
        return video_path
    out = os.path.join(folder, "{}p_{}".format(resolution, os.path.basename(video_path)))
    fit = "scale='if(lte(iw,ih),min(iw,{r}),-2)':'if(lte(iw,ih),-2,min(ih,{r}))'".format(r=int(resolution))
    subprocess.run([ffmpeg, "-v", "error", "-y", "-i", video_path, "-vf", fit, "-an", "-c:v", "libx264",
                    "-crf", "18", "-pix_fmt", "yuv420p", out], check=True)
    return out


def enhance(items, upsampler, scratch):
    results = []
    for number, item in enumerate(items, 1):
        name = item.get("name") or "prompt_{}".format(number)
        resolution = item.get("resolution")
        print("[{}/{}] enhancing {}{}".format(number, len(items), name,
                                             " at {}p".format(resolution) if resolution else ""), flush=True)
        result = {"name": name, "original_prompt": item["prompt"], "video_path": item["video_path"]}
        try:
            video = scaled_video(item["video_path"], resolution, scratch) if resolution else item["video_path"]
            text = upsampler._prompt_upsample(item["prompt"], video)
            result.update(upsampled_prompt=text, success=True)
        except Exception as exc:  # one bad item must not lose the others' results
            traceback.print_exc()
            result.update(success=False, error="{}: {}".format(type(exc).__name__, exc))
        results.append(result)
    return results


def write_json(path, data):
    folder = os.path.dirname(path) or "."
    handle, tmp = tempfile.mkstemp(dir=folder, prefix=".batch_results.")
    with os.fdopen(handle, "w") as out:
        json.dump(data, out, indent=2, ensure_ascii=False)
    os.replace(tmp, path)


def main():
    parser = argparse.ArgumentParser(description="Enhance prompts with the Pixtral prompt upsampler")
    parser.add_argument("--batch", required=True, help='JSON list of {"name", "prompt", "video_path"}')
    parser.add_argument("--output-dir", required=True)
    parser.add_argument("--checkpoint-dir", default="checkpoints")
    args = parser.parse_args()

    with open(args.batch) as handle:
        items = json.load(handle)
    from cosmos_transfer1.auxiliary.upsampler.model.upsampler import PixtralPromptUpsampler

    upsampler = PixtralPromptUpsampler(checkpoint_dir=args.checkpoint_dir, offload_prompt_upsampler=False)
    with tempfile.TemporaryDirectory(prefix="cosmos-enhance-") as scratch:
        results = enhance(items, upsampler, scratch)
    os.makedirs(args.output_dir, exist_ok=True)
    write_json(os.path.join(args.output_dir, "batch_results.json"), results)
    done = sum(1 for r in results if r["success"])
    print("Enhanced {} of {} prompts".format(done, len(results)), flush=True)
    return 0 if done else 1


if __name__ == "__main__":
    sys.exit(main())
