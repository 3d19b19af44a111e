#!/usr/bin/env bash
# One Cosmos Transfer inference: JOB_DIR/spec.json -> JOB_DIR/outputs/output.mp4 + output.txt.
# usage (inside the container, cwd /workspace): bash scripts/inference.sh JOB_DIR
. "$(dirname "$0")/lib.sh" "$1"
job_main transfer --controlnet_specs "$JOB_DIR/spec.json" --video_save_folder "$JOB_DIR/outputs" \
    --video_save_name output
