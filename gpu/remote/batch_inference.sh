#!/usr/bin/env bash
# A batch of inferences with one model load: JOB_DIR/spec.json (base) + JOB_DIR/batch.jsonl
# -> JOB_DIR/outputs/video_<N>/output.mp4 + prompt.txt, N = line index.
# usage (inside the container, cwd /workspace): bash scripts/batch_inference.sh JOB_DIR
. "$(dirname "$0")/lib.sh" "$1"
job_main transfer --controlnet_specs "$JOB_DIR/spec.json" --batch_input_path "$JOB_DIR/batch.jsonl" \
    --batch_size 1 --video_save_folder "$JOB_DIR/outputs"
