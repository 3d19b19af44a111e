#!/usr/bin/env bash
# Prompt enhancement with the Pixtral upsampler: JOB_DIR/enhance_input.json
# -> JOB_DIR/outputs/batch_results.json.
# usage (inside the container, cwd /workspace): bash scripts/enhance.sh JOB_DIR
set -u
. "$(dirname "$0")/lib.sh"
JOB_DIR="$1"
cosmos_env
export VLLM_WORKER_MULTIPROC_METHOD=spawn
job_main "$JOB_DIR" python3 "$(dirname "$0")/prompt_upsampler.py" \
    --batch "$JOB_DIR/enhance_input.json" \
    --output-dir "$JOB_DIR/outputs" \
    --checkpoint-dir "$CHECKPOINT_DIR"
