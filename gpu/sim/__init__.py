"""The Cosmos host simulator: a machine with Docker and an NVIDIA GPU, for hosts without either.

Pieces (none imports Django; they run as separate programs):

- `docker_cli` — a `docker` command answering every call the project makes (`run -d`, `ps`,
  `inspect`, `logs`, `wait`, `kill`, `rm`, `info`, `images`). Each container is a detached
  process group whose state lives in a folder (`COSMOS_SIM_STATE`, see `containers`). A volume
  `-v HOST:/workspace` with `-w /workspace` is honoured by running the command in HOST.
- `nvidia_smi` — an `nvidia-smi` command; the GPU's name says "(cosmos-sim)".
- Inside a "container": `torchrun` (`torchrun_cli`) and the stand-ins for Cosmos Transfer's
  `transfer.py` (`transfer`) and the Pixtral prompt upsampler (`upsampler`), found through the
  simulated image root `gpu/sim/image/`. They validate specs like the real programs, print the
  real log lines at the host's pace and write real, playable mp4s made from the inputs
  (`video`).
- `config` — pace and injected failures: per host in `<workspace>/.cosmos-sim/config.json`,
  per job with a marker in the prompt such as `[sim:out_of_memory]`, globally with
  `COSMOS_SIM_FAIL`; `COSMOS_SIM_SPEED` divides every delay.
- `install` — writes the `docker` / `nvidia-smi` / `torchrun` / `python3` entry points into a
  bin folder, bound to the interpreter that runs the project (the stand-ins need PyAV).
"""
