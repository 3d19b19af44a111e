# Sourced by the job scripts in this folder; runs inside the Cosmos container, cwd /workspace.
#
# job_main JOB_DIR COMMAND...   runs COMMAND with stdout+stderr teed to JOB_DIR/job.log, then
# writes JOB_DIR/exit_code (atomically, whatever the exit code) and makes the job's files
# removable by the host user (the container runs as root). Only SIGKILL (docker kill) skips
# the marker; the container's own exit code (137) tells that story.

cosmos_env() {
    export CUDA_VISIBLE_DEVICES="${CUDA_VISIBLE_DEVICES:-0}"
    export CHECKPOINT_DIR="${CHECKPOINT_DIR:-./checkpoints}"
    export NUM_GPU="${NUM_GPU:-1}"
    export PYTHONPATH="$(pwd)${PYTHONPATH:+:$PYTHONPATH}"
    export PYTHONUNBUFFERED=1
}

job_main() {
    local job_dir="$1"
    shift
    mkdir -p "$job_dir/outputs"
    rm -f "$job_dir/exit_code"
    {
        echo "[cosmos] job $(basename "$job_dir") started $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname)"
        "$@"
    } 2>&1 | tee -a "$job_dir/job.log"
    local code="${PIPESTATUS[0]}"
    echo "[cosmos] job $(basename "$job_dir") ended with exit code $code" | tee -a "$job_dir/job.log"
    printf '%s\n' "$code" > "$job_dir/exit_code.tmp"
    mv -f "$job_dir/exit_code.tmp" "$job_dir/exit_code"
    chmod -R a+rwX "$job_dir" 2>/dev/null || true
    exit "$code"
}

transfer() {
    torchrun --nproc_per_node="$NUM_GPU" --nnodes=1 --node_rank=0 \
        cosmos_transfer1/diffusion/inference/transfer.py \
        --checkpoint_dir "$CHECKPOINT_DIR" \
        --num_gpus "$NUM_GPU" \
        --offload_text_encoder_model \
        --offload_guardrail_models \
        "$@"
}
