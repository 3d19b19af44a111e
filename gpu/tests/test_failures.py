"""An exit code and a log tail become a named failure reason with a sentence that helps."""

from __future__ import annotations

import pytest

from gpu.failures import REASONS, failure_reason

OOM_TAIL = """[rank0]: Traceback (most recent call last):
[rank0]:   File "/workspace/cosmos_transfer1/diffusion/inference/transfer.py", line 404, in <module>
[rank0]: torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 79.10 GiB
torch.distributed.elastic.multiprocessing.errors.ChildFailedError:"""


@pytest.mark.parametrize(("code", "tail", "reason", "detail"), [
    (1, OOM_TAIL, "out_of_memory", "torch.OutOfMemoryError: CUDA out of memory."),
    (1, "[rank0]: FileNotFoundError: [Errno 2] No such file or directory: "
        "'checkpoints/nvidia/Cosmos-Transfer1-7B/base_model.pt'", "missing_checkpoint", "base_model.pt"),
    (1, "[rank0]: FileNotFoundError: [Errno 2] No such file or directory: 'cache/abc.mp4'", "missing_input", "cache/abc.mp4"),
    (1, "[09-08 01:15:45|CRITICAL|cosmos_transfer1/auxiliary/guardrail/common/presets.py:82:run_text_guardrail] "
        "Input text prompt 1 is not safe", "guardrail_blocked", "Input text prompt 1 is not safe"),
    (2, "usage: transfer.py [-h]\ntransfer.py: error: the following arguments are required: --controlnet_specs",
     "bad_spec", "--controlnet_specs"),
    (1, "[rank0]: ValueError: Invalid hint_key: sharpness", "bad_spec", "Invalid hint_key"),
    (125, "docker: Error response from daemon: failed to create task", "docker_start_failed", "Error response"),
    (137, "Generating samples:  40%", "killed", ""),
    (1, "[rank0]: RuntimeError: CUDA error: an illegal memory access was encountered", "crashed", "illegal memory"),
    (139, "", "crashed", "exit code 139"),
])
def test_reasons(code, tail, reason, detail):
    found = failure_reason(code, tail)
    assert found.code == reason
    assert detail in found.detail
    assert found.message and str(found).startswith(found.message)


def test_success_and_running_jobs_have_no_reason():
    assert failure_reason(0, OOM_TAIL) is None
    assert failure_reason(None, OOM_TAIL) is None


def test_every_reason_says_what_to_do_or_what_happened():
    assert all(message.endswith(".") and len(message) > 20 for message in REASONS.values())
