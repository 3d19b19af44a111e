"""`manage.py runcosmos` (what `make run` runs): set up, then serve the web app and the task worker.

Migrates, creates the first admin when there is no user (its password is printed once), registers
the local simulated GPU host when there is no host, writes the sample inputs on first start, then
runs `manage.py qcluster` and the web server (daphne on every core: cosmosproject.serve) as child
processes until either stops or Ctrl-C / SIGTERM arrives, and stops the other one.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from accounts.bootstrap import first_admin_ensure
from runs.children import stop_children
from runs.startup import local_sim_host_ensure, sample_inputs_ensure

STOP_GRACE_SECONDS = 15


class Command(BaseCommand):
    help = "Start Cosmos Workflow here: migrate, first admin, simulated GPU host, samples, worker, web server."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
        parser.add_argument(
            "--port", type=int, default=int(os.environ.get("PORT", 8000)), help="port (default $PORT or 8000)"
        )

    def handle(self, *args, **options):
        host, port = options["host"], options["port"]
        call_command("migrate", interactive=False, verbosity=0)
        self._setup()
        children = {
            "task worker": self._spawn([sys.executable, str(settings.BASE_DIR / "manage.py"), "qcluster"]),
            # daphne in COSMOS_WEB_PROCESSES processes (default: one per CPU) on one socket.
            "web server": self._spawn(
                [sys.executable, "-m", "cosmosproject.serve", "--host", host, "--port", str(port)]
            ),
        }
        stopping = []
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda num, frame: stopping.append(num))
        url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/"
        announced = False
        try:
            while not stopping:
                ended = {name: child.returncode for name, child in children.items() if child.poll() is not None}
                if ended:
                    name, code = next(iter(ended.items()))
                    hint = f" Is port {port} free? Try --port." if name == "web server" else ""
                    raise CommandError(f"The {name} stopped (exit code {code}).{hint}")
                if not announced and _answers(host, port):
                    self.stdout.write(self.style.SUCCESS(f"Cosmos Workflow is running: open {url}  (Ctrl-C stops it)"))
                    announced = True
                time.sleep(0.2)
        finally:
            stop_children(children.values(), grace=STOP_GRACE_SECONDS)
        self.stdout.write("Stopped.")

    def _setup(self) -> None:
        admin = first_admin_ensure()
        if admin:
            username, password = admin
            self.stdout.write(
                self.style.WARNING("First start: created an admin user. Note the password now, it is not shown again:")
            )
            self.stdout.write(f"  username: {username}\n  password: {password}")
        if local_sim_host_ensure():
            self.stdout.write("Registered GPU host 'local-sim': a simulator on this machine (no GPU, no Docker).")
        samples = sample_inputs_ensure()
        if samples:
            self.stdout.write(f"Wrote sample inputs to {samples}")

    def _spawn(self, argv: list[str]) -> subprocess.Popen:
        return subprocess.Popen(argv, cwd=settings.BASE_DIR, preexec_fn=_child_setup)


def _child_setup() -> None:
    """In the child before exec: own process group, and SIGTERM when this command dies.

    Its own group, so Ctrl-C in the terminal reaches only this command, which then stops each
    child with exactly one SIGTERM (the task worker hangs on a second signal while stopping).
    The death signal, so a child never outlives a killed parent and holds the port.
    """
    os.setpgid(0, 0)
    if sys.platform == "linux":
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1" if host in ("0.0.0.0", "::") else host, port), timeout=0.2):
            return True
    except OSError:
        return False
