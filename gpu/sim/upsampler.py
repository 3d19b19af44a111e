"""Stand-in for Cosmos' `PixtralPromptUpsampler` (cosmos_transfer1/auxiliary/upsampler/model/upsampler.py).

Same constructor and methods as the real class (`_prompt_upsample`, `_prompt_upsample_with_offload`),
same log lines ("Upsampled prompt: ..."). The richer prompt is made from the original, the
video's size and a hash, so it is stable for the same input. A model-load failure (missing
checkpoint, out of memory) raises from the constructor; markers in one prompt fail that item.
"""

from __future__ import annotations

import hashlib
import os
import time

from gpu.sim.config import SimConfig, pause
from gpu.sim.logfmt import UPSAMPLER, log
from gpu.sim.transfer import OOM

CHECKPOINT = "mistralai/Pixtral-12B-2409/model.safetensors"
_DETAILS = ("crisp, high-dynamic-range detail", "soft volumetric light", "subtle film grain", "rich, saturated colour")
_LIGHT = ("golden-hour sunlight raking across the surfaces", "cool overcast daylight", "neon reflections on wet ground",
          "warm practical lights against a deep blue dusk")
_CAMERA = ("a slow, steady dolly forward", "a locked-off wide shot", "a gentle handheld drift", "a low tracking shot")


class OutOfMemoryError(RuntimeError):
    """Named like torch's, so the message reads the same in a log."""


class PixtralPromptUpsampler:
    def __init__(self, checkpoint_dir: str, offload_prompt_upsampler: bool = False):
        self.checkpoint_dir = checkpoint_dir
        self.offload = offload_prompt_upsampler
        self.config = SimConfig.load(os.getcwd())
        self.job_failure = self.config.failure_for(job_id=os.environ.get("COSMOS_SIM_JOB", ""))
        if not offload_prompt_upsampler:
            self._load_model()

    def _load_model(self) -> None:
        path = os.path.join(self.checkpoint_dir, CHECKPOINT)
        log("INFO", f"Loading prompt upsampler from {os.path.dirname(path)}", where=UPSAMPLER, line=58, function="_load_model")
        if self.job_failure == "missing_checkpoint" or not os.path.exists(path):
            raise FileNotFoundError(f"[Errno 2] No such file or directory: '{path}'")
        pause(self.config.load_seconds)
        if self.job_failure == "out_of_memory":
            raise OutOfMemoryError(OOM.format(pid=os.getpid()).split(": ", 1)[1])

    def _prompt_upsample(self, prompt: str, video_path: str) -> str:
        failure = self.config.failure_for(texts=(prompt,)) or self.job_failure
        if not os.path.exists(video_path):
            raise FileNotFoundError(f"[Errno 2] No such file or directory: '{video_path}'")
        from gpu.sim import video

        info = video.probe(video_path)
        pause(self.config.step_seconds * 4)
        if failure == "out_of_memory":
            raise OutOfMemoryError(OOM.format(pid=os.getpid()).split(": ", 1)[1])
        if failure == "guardrail_blocked":
            raise ValueError("Prompt upsampler output is not safe (guardrail)")
        if failure == "crashed":
            os._exit(139)  # the vLLM worker segfaults and takes the process with it
        if failure == "hang":
            while True:
                time.sleep(3600)
        digest = hashlib.sha256(f"{prompt}|{info.width}x{info.height}".encode()).digest()
        text = prompt.strip().rstrip(".")
        upsampled = (
            f"{text}. The {info.width}x{info.height} footage is rendered with {_DETAILS[digest[0] % 4]}, "
            f"{_LIGHT[digest[1] % 4]}, and {_CAMERA[digest[2] % 4]}, keeping the original motion and composition "
            f"across all {info.frames} frames."
        )
        log("INFO", f"Upsampled prompt: {upsampled}", where=UPSAMPLER, line=131, function="_prompt_upsample")
        return upsampled

    def _prompt_upsample_with_offload(self, prompt: str, video_path: str) -> str:
        self._load_model()
        return self._prompt_upsample(prompt, video_path)
