#!/usr/bin/env bash
# Prompt enhancement with the Pixtral upsampler: JOB_DIR/enhance_input.json
# -> JOB_DIR/outputs/batch_results.json.
# usage (inside the container, cwd /workspace): bash scripts/enhance.sh JOB_DIR
. "$(dirname "$0")/lib.sh" "$1"
export VLLM_WORKER_MULTIPROC_METHOD=spawn
job_main python3 "$(dirname "$0")/prompt_upsampler.py" --batch "$JOB_DIR/enhance_input.json" \
    --output-dir "$JOB_DIR/outputs" --checkpoint-dir "$CHECKPOINT_DIR"
