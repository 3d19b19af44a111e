#!/usr/bin/env python3
"""Batch prompt enhancement inside the Cosmos container (cwd /workspace, a cosmos-transfer1 checkout).

Reads [{"name", "prompt", "video_path"}] and writes OUTPUT_DIR/batch_results.json:
[{"name", "original_prompt", "upsampled_prompt", "video_path", "success": true}] or, for an item
that failed, {"name", "original_prompt", "video_path", "success": false, "error"}. The model is
loaded once for the whole batch. Exit 0 when at least one item succeeded, 1 otherwise.
"""

import argparse
import json
import os
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


def enhance(items, upsampler):
    results = []
    for number, item in enumerate(items, 1):
        name = item.get("name") or "prompt_{}".format(number)
        print("[{}/{}] enhancing {}".format(number, len(items), name), flush=True)
        result = {"name": name, "original_prompt": item["prompt"], "video_path": item["video_path"]}
        try:
            text = upsampler._prompt_upsample(item["prompt"], item["video_path"])
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
    results = enhance(items, upsampler)
    os.makedirs(args.output_dir, exist_ok=True)
    write_json(os.path.join(args.output_dir, "batch_results.json"), results)
    done = sum(1 for r in results if r["success"])
    print("Enhanced {} of {} prompts".format(done, len(results)), flush=True)
    return 0 if done else 1


if __name__ == "__main__":
    sys.exit(main())
