"""`cosmos host ...`: add, edit, list, check, import-config, enable/disable, forget-key, remove.

Parses arguments, calls gpu.services / gpu.selectors, prints a rich table or stable JSON.
"""

from __future__ import annotations

import re

from rich.table import Table

from gpu import selectors, services
from gpu.errors import HostCheckFailed, HostInputInvalid
from gpu.models import Transport

_SSH_TARGET = re.compile(r"(?P<user>[^@\s]+)@(?P<host>\[[^\]\s]+\]|[^:\s@]+)(?::(?P<port>\d+))?")
_STATUS_STYLE = {"ok": "[green]ok[/]", "warn": "[yellow]warn[/]", "fail": "[red]FAIL[/]"}


def parse_ssh_target(value: str) -> tuple[str, str, int]:
    """"user@host[:port]" -> (user, host, port)."""
    match = _SSH_TARGET.fullmatch(value.strip())
    if not match:
        raise HostInputInvalid(f"--ssh {value!r}: use USER@HOST[:PORT], e.g. ubuntu@192.0.2.10 or ubuntu@gpu-1:2222.",
                               field="ssh")
    return match["user"], match["host"].strip("[]"), int(match["port"] or 22)


def add(ctx, options) -> None:
    common = {"name": options["name"], "remote_dir": options["remote_dir"] or "", "image": options["image"],
              "docker_cmd": options["docker_cmd"], "slots": options["slots"], "gpus_per_job": options["gpus_per_job"],
              "shm_size": options["shm_size"], "simulated": options["simulated"]}
    if options["ssh"]:
        user, hostname, port = parse_ssh_target(options["ssh"])
        host = services.host_add(user=ctx.user, transport=Transport.SSH, hostname=hostname, port=port, username=user,
                                 key_path=options["key"] or "", **common)
    else:
        if options["key"]:
            raise HostInputInvalid("--key is for SSH hosts (--ssh USER@HOST); a --local host needs none.", field="key_path")
        host = services.host_add(user=ctx.user, transport=Transport.LOCAL, **common)
    if options["json"]:
        ctx.json(selectors.host_summary(host))
        return
    ctx.print(f"Added host [bold]{host.name}[/] ({host.address}{', simulated' if host.simulated else ''}), "
              f"remote dir {host.remote_dir}.")
    hint = " --accept-new-key" if host.transport == Transport.SSH else ""
    ctx.print(f"Next: `cosmos host check {host.name}{hint}` connects, checks Docker and the GPUs"
              + (" and pins the host key." if hint else "."))


def edit(ctx, options) -> None:
    changes = {key: options[key] for key in ("remote_dir", "image", "docker_cmd", "slots", "gpus_per_job", "shm_size")}
    if options["key"]:
        changes["key_path"] = options["key"]
    if all(value is None for value in changes.values()):
        raise HostInputInvalid("Nothing to change: give at least one option (see `cosmos host edit --help`).",
                               field="name")
    host = services.host_update(user=ctx.user, name=options["name"], **changes)
    if options["json"]:
        ctx.json(selectors.host_summary(host))
        return
    ctx.print(f"Host [bold]{host.name}[/]: {host.slots} slot(s) x {host.gpus_per_job} GPU(s) per job, "
              f"shm {host.shm_size}, image {host.image}, remote dir {host.remote_dir}.")


def list_hosts(ctx, options) -> None:
    hosts = [selectors.host_summary(h) for h in selectors.hosts_list(user=ctx.user)]
    if options["json"]:
        ctx.json(hosts)
        return
    if not hosts:
        ctx.print("No GPU hosts yet. Add one with `cosmos host add NAME --ssh USER@HOST --key PATH --remote-dir DIR`.")
        return
    table = Table(title="GPU hosts")
    for column in ("name", "transport", "address", "slots", "GPUs/job", "enabled", "last check"):
        table.add_column(column)
    for h in hosts:
        check = h["last_check"] or {}
        checked = ("[green]" if check.get("ok") else "[red]") + check.get("summary", "") + "[/]" if check else "never"
        name = h["name"] + (" [magenta](simulated)[/]" if h["simulated"] else "")
        table.add_row(name, h["transport"], h["address"], str(h["slots"]), str(h["gpus_per_job"]),
                      "yes" if h["enabled"] else "no", checked)
    ctx.print(table)


def check(ctx, options) -> None:
    report = services.host_check(user=ctx.user, name=options["name"], accept_new_key=options["accept_new_key"])
    if options["json"]:
        ctx.json(report.as_dict())
    else:
        title = f"Host {report.host} ({report.address})" + (" — SIMULATED" if report.simulated else "")
        table = Table(title=title)
        table.add_column("check")
        table.add_column("result")
        table.add_column("detail", overflow="fold")
        for item in report.items:
            table.add_row(item.name, _STATUS_STYLE[item.status], item.detail)
        ctx.print(table)
        for gpu in report.gpus:
            ctx.print(f"  GPU {gpu.index}: {gpu.name}, {gpu.memory_used_mb}/{gpu.memory_total_mb} MiB used, "
                      f"{gpu.utilization_pct}% busy, {gpu.temperature_c}°C")
        ctx.print(("[green]Ready[/]" if report.ok else "[red]Not ready[/]") + f": {report.summary} "
                  f"({report.seconds:.1f} s)")
    if not report.ok:
        raise HostCheckFailed(f"Host {report.host} failed its check: {report.summary}.")


def import_config(ctx, options) -> None:
    imported = services.host_import_config(user=ctx.user, path=options["path"], name=options["name"])
    host = imported.host
    if options["json"]:
        ctx.json({**selectors.host_summary(host), "notes": imported.notes})
        return
    ctx.print(f"Added host [bold]{host.name}[/] ({host.address}) from {options['path']}, remote dir {host.remote_dir}, "
              f"shm {host.shm_size}.")
    for note in imported.notes:
        ctx.print(f"  {note}", markup=False)
    ctx.print(f"Next: `cosmos host check {host.name} --accept-new-key`.")


def enable(ctx, options) -> None:
    host = services.host_set_enabled(user=ctx.user, name=options["name"], enabled=True)
    ctx.print(f"Host {host.name} is enabled.")


def disable(ctx, options) -> None:
    host = services.host_set_enabled(user=ctx.user, name=options["name"], enabled=False)
    ctx.print(f"Host {host.name} is disabled: it gets no new jobs; running ones continue.")


def forget_key(ctx, options) -> None:
    host = services.host_forget_key(user=ctx.user, name=options["name"])
    ctx.print(f"Forgot the host key of {host.name}. Pin the new one with `cosmos host check {host.name} --accept-new-key`.")


def remove(ctx, options) -> None:
    services.host_remove(user=ctx.user, name=options["name"])
    ctx.print(f"Removed host {options['name']}.")


def _gpu_arguments(parser, *, defaults: bool) -> None:
    parser.add_argument("--gpus-per-job", type=int, default=1 if defaults else None, metavar="N",
                        help="GPUs each job gets (torchrun --nproc_per_node)" + (" (default 1)" if defaults else ""))
    parser.add_argument("--shm-size", default="8g" if defaults else None, metavar="SIZE",
                        help="shared memory of a job's container, like 8g or 512m" + (" (default 8g)" if defaults else ""))


def register(cli) -> None:
    group = {"group": "host", "group_help": "GPU hosts: add, list, check"}

    p = cli.command("add", add, help="Register a GPU host reached over SSH, or this machine (--local).", **group)
    p.add_argument("name", help="a short name: lowercase letters, digits, '-' and '_'")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--ssh", metavar="USER@HOST[:PORT]", help="reach the host over SSH")
    where.add_argument("--local", action="store_true", help="this machine runs the jobs")
    p.add_argument("--key", metavar="PATH", help="private key file for --ssh (no passphrase)")
    p.add_argument("--remote-dir", metavar="DIR", help="the Cosmos checkout on the host, mounted at /workspace")
    p.add_argument("--image", help="Docker image (default nvcr.io/ubuntu/cosmos-transfer1:latest)")
    p.add_argument("--docker-cmd", metavar="CMD", help="how to run docker there (default 'sudo docker')")
    p.add_argument("--slots", type=int, default=1, help="jobs that may run at once (default 1)")
    _gpu_arguments(p, defaults=True)
    p.add_argument("--simulated", action="store_true", help="the host runs the Cosmos simulator, not a GPU")
    p.add_argument("--json", action="store_true")

    p = cli.command("edit", edit, help="Change a host's settings (only the options given).", **group)
    p.add_argument("name")
    p.add_argument("--key", metavar="PATH", help="private key file (SSH hosts)")
    p.add_argument("--remote-dir", metavar="DIR")
    p.add_argument("--image")
    p.add_argument("--docker-cmd", metavar="CMD")
    p.add_argument("--slots", type=int, help="jobs that may run at once")
    _gpu_arguments(p, defaults=False)
    p.add_argument("--json", action="store_true")

    p = cli.command("list", list_hosts, help="List the GPU hosts.", **group)
    p.add_argument("--json", action="store_true")

    p = cli.command("check", check, help="Connect to a host and check Docker, the image, the GPUs and the disk.", **group)
    p.add_argument("name")
    p.add_argument("--accept-new-key", action="store_true", help="pin the host key the server presents (first time)")
    p.add_argument("--json", action="store_true")

    p = cli.command("import-config", import_config, help="Add the host of a seed config.toml ([remote], [paths], [docker]).", **group)
    p.add_argument("path", metavar="CONFIG_TOML")
    p.add_argument("--name", help="host name (default: from the address)")
    p.add_argument("--json", action="store_true")

    for name, handler, text in (
        ("enable", enable, "Let a host take new jobs."),
        ("disable", disable, "Stop giving a host new jobs (running ones continue)."),
        ("forget-key", forget_key, "Forget a host's pinned key (after the server was reinstalled)."),
        ("remove", remove, "Remove a disabled host."),
    ):
        cli.command(name, handler, help=text, **group).add_argument("name")
