# Sourced by the job scripts in this folder as `. lib.sh JOB_DIR`; runs inside the Cosmos
# container, cwd /workspace (the host's remote dir).
#
# job_main COMMAND...   runs COMMAND with stdout+stderr teed to $JOB_DIR/job.log, then writes
# $JOB_DIR/exit_code (atomically, whatever the exit code) and makes the job's files removable
# by the host user (the container runs as root). Only SIGKILL (docker kill) skips the marker;
# the container's own exit code (137) tells that story.
set -u
JOB_DIR="${1:-}"
if [ -z "$JOB_DIR" ]; then
    echo "usage: $0 JOB_DIR (relative to /workspace, e.g. jobs/rs_123)" >&2
    exit 2
fi
export CUDA_VISIBLE_DEVICES="${CUDA_VISIBLE_DEVICES:-0}"
export CHECKPOINT_DIR="${CHECKPOINT_DIR:-./checkpoints}"
export NUM_GPU="${NUM_GPU:-1}"
export PYTHONPATH="$(pwd)${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1

job_main() {
    local name
    name="$(basename "$JOB_DIR")"
    mkdir -p "$JOB_DIR/outputs"
    rm -f "$JOB_DIR/exit_code"
    {
        echo "[cosmos] job $name started $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname)"
        "$@"
    } 2>&1 | tee -a "$JOB_DIR/job.log"
    local code="${PIPESTATUS[0]}"
    echo "[cosmos] job $name ended with exit code $code" | tee -a "$JOB_DIR/job.log"
    printf '%s\n' "$code" > "$JOB_DIR/exit_code.tmp"
    mv -f "$JOB_DIR/exit_code.tmp" "$JOB_DIR/exit_code"
    chmod -R a+rwX "$JOB_DIR" 2>/dev/null || true
    exit "$code"
}

# Cosmos Transfer's entry point with the flags every job shares; the spec sets the rest.
transfer() {
    torchrun --nproc_per_node="$NUM_GPU" --nnodes=1 --node_rank=0 \
        cosmos_transfer1/diffusion/inference/transfer.py \
        --checkpoint_dir "$CHECKPOINT_DIR" \
        --num_gpus "$NUM_GPU" \
        --offload_text_encoder_model \
        --offload_guardrail_models \
        "$@"
}
