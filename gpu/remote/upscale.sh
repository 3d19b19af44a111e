#!/usr/bin/env bash
# The 4K upscaler over a finished output: JOB_DIR/spec.json -> JOB_DIR/outputs/output.mp4 (4x size).
# usage (inside the container, cwd /workspace): bash scripts/upscale.sh JOB_DIR
. "$(dirname "$0")/lib.sh" "$1"
job_main transfer --controlnet_specs "$JOB_DIR/spec.json" --num_steps 10 --video_save_folder "$JOB_DIR/outputs" \
    --video_save_name output
