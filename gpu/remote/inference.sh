#!/usr/bin/env bash
# One Cosmos Transfer inference: JOB_DIR/spec.json -> JOB_DIR/outputs/output.mp4 + output.txt.
# usage (inside the container, cwd /workspace): bash scripts/inference.sh JOB_DIR
set -u
. "$(dirname "$0")/lib.sh"
JOB_DIR="$1"
cosmos_env
job_main "$JOB_DIR" transfer \
    --controlnet_specs "$JOB_DIR/spec.json" \
    --video_save_folder "$JOB_DIR/outputs" \
    --video_save_name output
