"""Benchmark: log lines relayed by Transport.stream, over a loopback sshd and locally.

Throughput: a remote program prints 200,000 log-sized lines as fast as it can; lines/s received.
Latency: a remote program prints one line with its clock every 20 ms; the time until each line
reaches the reader (same machine, same clock). Baseline: the same program read straight from a
local pipe. Targets (the issue): >= 50,000 lines/s relayed; a single line within 5 ms.
Run: .venv/bin/python bench/logstream_transport.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gpu.testing import start_sshd  # noqa: E402
from gpu.transports.local import LocalTransport  # noqa: E402
from gpu.transports.ssh import SSHTransport  # noqa: E402

# The system interpreter, for the remote programs and the baseline alike (no shim start-up in the clock).
PYTHON = "/usr/bin/python3"
LINES = 200_000
FLOOD = [PYTHON, "-c", (
    "import sys\n"
    f"w = sys.stdout.write\n"
    f"for i in range({LINES}):\n"
    "    w('[11-28 14:05:29|INFO|cosmos_transfer1/diffusion/inference/transfer.py:187:demo] step %d of many\\n' % i)\n"
)]
TICKS = 150
TICKER = [PYTHON, "-c", (
    "import sys, time\n"
    f"for i in range({TICKS}):\n"
    "    sys.stdout.write('%.6f\\n' % time.time()); sys.stdout.flush(); time.sleep(0.02)\n"
)]


def throughput(lines) -> float:
    started = time.perf_counter()
    count = sum(1 for _ in lines)
    assert count == LINES, count
    return count / (time.perf_counter() - started)


def latencies(lines) -> list[float]:
    return [(time.time() - float(line)) * 1000 for line in lines]


def pipe_lines(argv):
    with subprocess.Popen(argv, stdout=subprocess.PIPE) as process:
        yield from process.stdout


def main() -> int:
    sshd = start_sshd(Path(tempfile.mkdtemp(prefix="cosmos-bench-")) / "sshd")
    try:
        ssh = SSHTransport(hostname=sshd.host, port=sshd.port, username=sshd.user, key_path=str(sshd.client_key),
                           host_key=sshd.host_key)
        ssh.connect()
        local = LocalTransport()
        ok = True
        print(f"throughput, {LINES:,} lines (best of 3)")
        base = max(throughput(pipe_lines(FLOOD)) for _ in range(3))
        print(f"  {'local pipe (baseline)':24} {base:12,.0f} lines/s")
        for name, transport in (("SSHTransport.stream", ssh), ("LocalTransport.stream", local)):
            rate = max(throughput(transport.stream(FLOOD)) for _ in range(3))  # the clock includes the start
            ok &= rate >= 50_000
            print(f"  {name:24} {rate:12,.0f} lines/s  {rate / base:5.2f}x baseline")
        print(f"latency, {TICKS} single lines 20 ms apart")
        # Each command starts only when its turn comes: lines must not wait while another is measured.
        for name, start in (("local pipe (baseline)", lambda: pipe_lines(TICKER)),
                            ("SSHTransport.stream", lambda: ssh.stream(TICKER)),
                            ("LocalTransport.stream", lambda: local.stream(TICKER))):
            values = sorted(latencies(start()))
            p95 = values[int(len(values) * 0.95)]
            if name != "local pipe (baseline)":
                ok &= p95 <= 5
            print(f"  {name:24} median {statistics.median(values):6.2f} ms   p95 {p95:6.2f} ms   max {values[-1]:6.2f} ms")
        print("targets (>= 50,000 lines/s, p95 <= 5 ms):", "met" if ok else "NOT met")
        ssh.close()
        return 0
    finally:
        sshd.stop()


if __name__ == "__main__":
    sys.exit(main())
