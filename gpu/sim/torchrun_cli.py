"""The simulated `torchrun`: runs the script once as rank 0 and reports a failure like torchrun does.

The script is looked up in the work dir first (a real Cosmos checkout mounted at /workspace),
then in the simulated image root (where the stand-in `transfer.py` lives). One process stands
for the whole job whatever `--nproc_per_node` says; the environment says how many there were.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from gpu.sim.install import IMAGE_ROOT

_VALUED = {"--nproc_per_node", "--nproc-per-node", "--nnodes", "--node_rank", "--node-rank", "--master_addr",
           "--master-addr", "--master_port", "--master-port", "--rdzv_backend", "--rdzv-backend",
           "--rdzv_endpoint", "--rdzv-endpoint", "--max_restarts", "--max-restarts"}


def parse(argv: list[str]) -> tuple[dict[str, str], str, list[str]]:
    options: dict[str, str] = {}
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        name, has_value, value = argv[i].partition("=")
        if not has_value and name in _VALUED and i + 1 < len(argv):
            i += 1
            value = argv[i]
        options[name.lstrip("-").replace("-", "_")] = value
        i += 1
    if i >= len(argv):
        raise SystemExit("torchrun: error: the following arguments are required: training_script")
    return options, argv[i], argv[i + 1:]


def failure_report(script: str, code: int, pid: int) -> str:
    stamp = time.strftime("%Y-%m-%d_%H:%M:%S")
    line = "=" * 60
    dash = "-" * 60
    return (
        f"E{time.strftime('%m%d %H:%M:%S')}.000000 {os.getpid()} torch/distributed/elastic/multiprocessing/api.py:874] "
        f"failed (exitcode: {code}) local_rank: 0 (pid: {pid}) of binary: {sys.executable}\n"
        "Traceback (most recent call last):\n"
        '  File "/usr/local/bin/torchrun", line 8, in <module>\n'
        "    sys.exit(main())\n"
        '  File "/usr/local/lib/python3.12/dist-packages/torch/distributed/run.py", line 892, in main\n'
        "    run(args)\n"
        '  File "/usr/local/lib/python3.12/dist-packages/torch/distributed/launcher/api.py", line 270, in launch_agent\n'
        "    raise ChildFailedError(\n"
        "torch.distributed.elastic.multiprocessing.errors.ChildFailedError: \n"
        f"{line}\n{script} FAILED\n{dash}\nFailures:\n  <NO_OTHER_FAILURES>\n{dash}\n"
        "Root Cause (first observed failure):\n[0]:\n"
        f"  time      : {stamp}\n  host      : {socket.gethostname()}\n  rank      : 0 (local_rank: 0)\n"
        f"  exitcode  : {code} (pid: {pid})\n  error_file: <N/A>\n"
        "  traceback : To enable traceback see: https://pytorch.org/docs/stable/elastic/errors.html\n"
        f"{line}\n"
    )


def main(argv: list[str] | None = None) -> int:
    options, script, args = parse(sys.argv[1:] if argv is None else argv)
    path = Path(script)
    if not path.exists() and (IMAGE_ROOT / script).exists():
        path = IMAGE_ROOT / script
    if not path.exists():
        sys.stderr.write(f"{sys.executable}: can't open file '{Path.cwd() / script}': [Errno 2] No such file or directory\n")
        sys.stderr.write(failure_report(script, 2, 0))
        return 1
    world = options.get("nproc_per_node", "1")
    env = {**os.environ, "RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": world, "LOCAL_WORLD_SIZE": world,
           "MASTER_ADDR": options.get("master_addr", "127.0.0.1"), "MASTER_PORT": options.get("master_port", "29500"),
           "TORCHELASTIC_RUN_ID": "none"}
    sys.stdout.flush()
    child = subprocess.Popen([sys.executable, str(path), *args], env=env)
    code = child.wait()
    if code != 0:
        sys.stderr.write(failure_report(script, code, child.pid))
        return 1
    return 0
