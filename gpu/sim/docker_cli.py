"""The simulated `docker` command: the subset of the Docker CLI the project uses, same outputs.

`run [-d] [--rm] --name N --label k=v --gpus G --ipc M --shm-size S -v H:C -e K=V -w DIR IMAGE
CMD...`, `ps [-a] [-q] [--no-trunc] [--filter k=v]... [--format T]`, `inspect [--format T] N...`,
`logs [-f] [--since S] [--tail N] N`, `wait N...`, `kill N...`, `rm [-f] N...`,
`events [--since S] [--until U] [--filter event=E|container=N]... [--format T]` (container start
and die), `info [--format T]`, `images [--format T] [REPO[:TAG]]`, `version`. Go templates are supported
for field access (`{{.Names}}`, `{{.State.ExitCode}}`), `{{json .}}`/`{{json .State}}` and
`{{.Label "k"}}`. Errors go to stderr with Docker's wording and exit codes (125 when a container
cannot be started, 1 for a missing object).

The "image" is the simulator's image root: inside a container `torchrun`, `python3` and the
Cosmos stand-ins resolve there (see gpu.sim.install). A login shell (`bash -lc`) is run as a
plain one: the host's /etc/profile would reset PATH, which a real image's environment does not.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shlex
import socket
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from gpu.sim import containers, nvidia_smi
from gpu.sim.config import SimConfig
from gpu.sim.install import IMAGE_ROOT, PROJECT_ROOT

DEFAULT_IMAGE = "nvcr.io/ubuntu/cosmos-transfer1:latest"
SERVER_VERSION = "27.5.1-cosmos-sim"
CHECKPOINT_FILES = (
    "nvidia/Cosmos-Transfer1-7B/base_model.pt",
    "nvidia/Cosmos-Transfer1-7B/vis_control.pt",
    "nvidia/Cosmos-Transfer1-7B/edge_control.pt",
    "nvidia/Cosmos-Transfer1-7B/depth_control.pt",
    "nvidia/Cosmos-Transfer1-7B/seg_control.pt",
    "nvidia/Cosmos-Transfer1-7B/keypoint_control.pt",
    "nvidia/Cosmos-Transfer1-7B/4kupscaler_control.pt",
    "nvidia/Cosmos-Transfer1-7B-Sample-AV/hdmap_control.pt",
    "nvidia/Cosmos-Transfer1-7B-Sample-AV/lidar_control.pt",
    "mistralai/Pixtral-12B-2409/model.safetensors",
    "nvidia/Cosmos-Guardrail1/README.md",
)
START_FAILURE = (
    "docker: Error response from daemon: failed to create task for container: failed to create shim task: "
    "OCI runtime create failed: runc create failed: unable to start container process: error during container "
    "init: error running hook #0: error running hook: exit status 1, stdout: , stderr: Auto-detected mode as "
    "'legacy'\nnvidia-container-cli: initialization error: nvml error: driver not loaded: unknown.\n"
    "Run 'docker run --help' for more information\n"
)


def err(message: str, code: int = 1) -> int:
    sys.stderr.write(message if message.endswith("\n") else message + "\n")
    return code


# --- images -----------------------------------------------------------------------------------


def normalize_image(ref: str) -> str:
    last = ref.rsplit("/", 1)[-1]
    return ref if ":" in last or "@" in last else f"{ref}:latest"


def known_images() -> list[str]:
    extra = [i.strip() for i in os.environ.get("COSMOS_SIM_IMAGES", "").split(",") if i.strip()]
    return list(dict.fromkeys(normalize_image(i) for i in [DEFAULT_IMAGE, *extra]))


def image_id(image: str) -> str:
    return "sha256:" + hashlib.sha256(image.encode()).hexdigest()


# --- go templates -----------------------------------------------------------------------------

_ACTION = re.compile(r"\{\{\s*(.*?)\s*\}\}")


def _resolve(obj, path: str):
    if path in (".", ""):
        return obj
    for part in path.strip(".").split("."):
        obj = obj.get(part) if isinstance(obj, dict) else None
    return obj


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "<no value>"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def render(template: str, obj: dict) -> str:
    """Enough of Go's text/template for Docker's --format: fields, json and .Label."""
    template = template.replace("\\t", "\t").replace("\\n", "\n")
    if template.startswith("table "):
        template = template[len("table "):]

    def action(match: re.Match) -> str:
        expr = match.group(1)
        if expr.startswith("json "):
            return json.dumps(_resolve(obj, expr[5:].strip()))
        label = re.fullmatch(r'\.Label\s+"([^"]*)"', expr)
        if label:
            return (obj.get("_labels") or {}).get(label.group(1), "")
        return _text(_resolve(obj, expr))

    return _ACTION.sub(action, template)


def public(obj: dict) -> dict:
    return {k: v for k, v in obj.items() if not k.startswith("_")}


# --- time -------------------------------------------------------------------------------------


def human_duration(seconds: float) -> str:
    """Docker's go-units HumanDuration."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    minutes = s // 60
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = round(s / 3600)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    return f"{hours // (24 * 7)} weeks"


def _age(iso: str) -> float:
    return max(0.0, (datetime.now(timezone.utc) - containers.parse_iso(iso)).total_seconds())


def parse_since(value: str) -> float:
    """--since: a duration ("10m", "1h30m", "45s"), unix seconds or an RFC 3339 time."""
    relative = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?", value)
    if relative and any(relative.groups()):
        h, m, s = relative.groups()
        return time.time() - (int(h or 0) * 3600 + int(m or 0) * 60 + float(s or 0))
    try:
        return float(value)
    except ValueError:
        return containers.parse_iso(value).timestamp()


# --- container views --------------------------------------------------------------------------


def ps_view(container: containers.Container, *, no_trunc: bool) -> dict:
    config, state = container.config, container.state()
    labels = config.get("Labels") or {}
    if state.get("Running"):
        status = f"Up {human_duration(_age(state['StartedAt']))}"
    elif state.get("Status") == "created":
        status = "Created"
    else:
        status = f"Exited ({state.get('ExitCode', 0)}) {human_duration(_age(state['FinishedAt']))} ago"
    created = containers.parse_iso(config["Created"])
    command = shlex.join(config["Cmd"])
    return {
        "ID": container.id if no_trunc else container.id[:12],
        "Image": config["Image"],
        "Command": json.dumps(command if no_trunc or len(command) <= 20 else command[:19] + "…"),
        "CreatedAt": created.strftime("%Y-%m-%d %H:%M:%S +0000 UTC"),
        "RunningFor": f"{human_duration(_age(config['Created']))} ago",
        "Ports": "",
        "State": state.get("Status", "exited"),
        "Status": status,
        "Size": "0B",
        "Names": config["Name"],
        "Labels": ",".join(f"{k}={v}" for k, v in sorted(labels.items())),
        "Mounts": "",
        "Networks": "bridge",
        "_labels": labels,
    }


def inspect_view(container: containers.Container) -> dict:
    config, state = container.config, container.state()
    return {
        "Id": container.id,
        "Created": config["Created"],
        "Path": config["Cmd"][0] if config["Cmd"] else "",
        "Args": config["Cmd"][1:],
        "State": {k: v for k, v in state.items() if k != "SupervisorPid"},
        "Image": image_id(config["Image"]),
        "Name": "/" + config["Name"],
        "Config": {"Image": config["Image"], "Labels": config.get("Labels") or {}, "Cmd": config["Cmd"],
                   "WorkingDir": config.get("ContainerWorkingDir", ""), "Env": config.get("ContainerEnv", [])},
        "HostConfig": config.get("HostConfig", {}),
        "Mounts": config.get("Mounts", []),
        "_labels": config.get("Labels") or {},
    }


def matches(view: dict, container: containers.Container, filters: list[str]) -> bool:
    config, state = container.config, container.state()
    labels = config.get("Labels") or {}
    for item in filters:
        key, _, value = item.partition("=")
        if key == "label":
            lkey, has_value, lvalue = value.partition("=")
            if lkey not in labels or (has_value and labels[lkey] != lvalue):
                return False
        elif key == "ancestor":
            if normalize_image(value) != normalize_image(config["Image"]) and not image_id(config["Image"]).startswith(value):
                return False
        elif key == "name":
            if not re.search(value, config["Name"]):
                return False
        elif key == "id":
            if not container.id.startswith(value):
                return False
        elif key == "status":
            if state.get("Status") != value:
                return False
        else:
            raise ValueError(f"invalid filter '{key}'")
    return True


# --- commands ---------------------------------------------------------------------------------


def cmd_ps(args) -> int:
    rows = []
    for container in containers.all_containers():
        try:
            view = ps_view(container, no_trunc=args.no_trunc)
            if not args.all and view["State"] != "running":
                continue
            if not matches(view, container, args.filter):
                continue
        except ValueError as exc:
            return err(f"Error response from daemon: {exc}")
        except (FileNotFoundError, KeyError):
            continue  # removed while we looked
        rows.append(view)
    out = sys.stdout
    if args.quiet:
        out.writelines(row["ID"] + "\n" for row in rows)
    elif args.format:
        out.writelines(render(args.format, row) + "\n" for row in rows)
    else:
        out.write(f"{'CONTAINER ID':<15}{'IMAGE':<42}{'CREATED':<18}{'STATUS':<26}NAMES\n")
        for row in rows:
            out.write(f"{row['ID'][:12]:<15}{row['Image']:<42}{row['RunningFor']:<18}{row['Status']:<26}{row['Names']}\n")
    return 0


def cmd_inspect(args) -> int:
    found, missing = [], []
    for ref in args.names:
        try:
            found.append(inspect_view(containers.find(ref)))
        except containers.NoSuchContainer:
            missing.append(ref)
    if args.format:
        for view in found:
            sys.stdout.write(render(args.format, view) + "\n")
    else:
        sys.stdout.write(json.dumps([public(v) for v in found], indent=4) + "\n")
    for ref in missing:
        err(f"Error: No such object: {ref}")
    return 1 if missing else 0


def cmd_wait(args) -> int:
    code = 0
    for ref in args.names:
        try:
            sys.stdout.write(f"{containers.find(ref).wait()}\n")
            sys.stdout.flush()
        except containers.NoSuchContainer:
            code = err(f"Error response from daemon: No such container: {ref}")
    return code


def cmd_kill(args) -> int:
    code = 0
    for ref in args.names:
        try:
            container = containers.find(ref)
            container.kill()
            sys.stdout.write(ref + "\n")
        except containers.NoSuchContainer:
            code = err(f"Error response from daemon: No such container: {ref}")
        except RuntimeError:
            code = err(
                f"Error response from daemon: cannot kill container: {ref}: container {container.id} is not running"
            )
    return code


def cmd_rm(args) -> int:
    code = 0
    for ref in args.names:
        try:
            container = containers.find(ref)
            if container.running():
                if not args.force:
                    code = err(
                        f"Error response from daemon: cannot remove container \"/{container.name}\": container is "
                        "running: stop the container before removing or force remove"
                    )
                    continue
                container.kill()
            container.remove()
            sys.stdout.write(ref + "\n")
        except containers.NoSuchContainer:
            code = err(f"Error response from daemon: No such container: {ref}")
    return code


def cmd_events(args) -> int:
    """Past events between --since and --until; without --until, then new ones until interrupted."""
    wanted: dict[str, set[str]] = {}
    for item in args.filter:
        key, _, value = item.partition("=")
        if key not in ("event", "container", "type"):
            return err(f"Error response from daemon: invalid filter '{key}'")
        wanted.setdefault(key, set()).add(value)

    def shown(event: dict) -> bool:
        names = {event["id"], event["Actor"]["Attributes"].get("name", "")}
        return (
            event["Action"] in wanted.get("event", {event["Action"]})
            and bool(names & wanted.get("container", names))
            and event["Type"] in wanted.get("type", {event["Type"]})
        )

    def write(event: dict) -> None:
        if args.format:
            sys.stdout.write(render(args.format, event) + "\n")
        else:
            stamp = datetime.fromtimestamp(event["timeNano"] / 1e9, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")
            attributes = ", ".join(f"{k}={v}" for k, v in sorted(event["Actor"]["Attributes"].items()))
            sys.stdout.write(f"{stamp}000Z {event['Type']} {event['Action']} {event['id']} ({attributes})\n")
        sys.stdout.flush()

    since = parse_since(args.since) if args.since else time.time()
    until = parse_since(args.until) if args.until else None
    seen = 0
    while True:
        events = containers.events_read()
        for event in events[seen:]:
            if event["timeNano"] >= since * 1e9 and (until is None or event["timeNano"] < until * 1e9) and shown(event):
                write(event)
        seen = len(events)
        if until is not None:
            return 0
        time.sleep(0.1)  # no --until: follow new events until interrupted, as `docker events` does


def _log_start(container: containers.Container, since: float | None) -> int:
    if since is None:
        return 0
    index = container.folder / "log.idx"
    if not index.exists():
        return 0
    for line in index.read_text().splitlines():
        stamp, offset = line.split()
        if float(stamp) >= since:
            return int(offset)
    return container.log_path.stat().st_size


def cmd_logs(args) -> int:
    try:
        container = containers.find(args.name)
    except containers.NoSuchContainer:
        return err(f"Error response from daemon: No such container: {args.name}")
    since = parse_since(args.since) if args.since else None
    offset = _log_start(container, since)
    out = sys.stdout.buffer
    with open(container.log_path, "rb") as log:
        log.seek(offset)
        data = log.read()
        if args.tail not in (None, "all"):
            lines = data.splitlines(keepends=True)
            data = b"".join(lines[-int(args.tail):]) if int(args.tail) > 0 else b""
        out.write(data)
        out.flush()
        if args.follow:
            _relay(container, log)
    return 0


def _relay(container: containers.Container, log) -> None:
    """Copy what the container appends to its log to stdout until it has ended and all is read."""
    out = sys.stdout.buffer
    while True:
        running = container.running()  # looked at before reading: nothing written after is missed
        chunk = log.read()
        if chunk:
            out.write(chunk)
            out.flush()
        elif not running:
            return
        else:
            time.sleep(0.02)


def _workspace(volumes: list[str], workdir: str) -> tuple[str | None, list[dict]]:
    """The host folder to run in: the volume that holds the work dir, as Docker would mount it."""
    mounts = []
    for volume in volumes:
        parts = volume.split(":")
        if len(parts) >= 2:
            mounts.append({"Type": "bind", "Source": parts[0], "Destination": parts[1], "RW": "ro" not in parts[2:]})
    target = workdir or "/"
    for mount in sorted(mounts, key=lambda m: len(m["Destination"]), reverse=True):
        destination = mount["Destination"].rstrip("/") or "/"
        if target == destination or target.startswith(destination + "/"):
            return mount["Source"] + target[len(destination):], mounts
    return None, mounts


def _plain_shell(argv: list[str]) -> list[str]:
    if len(argv) >= 2 and os.path.basename(argv[0]) in ("bash", "sh") and re.fullmatch(r"-[a-z]*l[a-z]*", argv[1]):
        flags = argv[1].replace("l", "")
        return [argv[0], *([flags] if flags != "-" else []), *argv[2:]]
    return argv


def _ensure_checkpoints(workspace: str) -> None:
    """The simulated image comes with its checkpoints on the host (tiny placeholders)."""
    folder = Path(workspace) / "checkpoints"
    if folder.exists():
        return
    for name in CHECKPOINT_FILES:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("cosmos-sim placeholder checkpoint\n")
    (folder / "SIMULATED.txt").write_text("Placeholder checkpoints written by the Cosmos host simulator.\n")


def cmd_run(args) -> int:
    image = normalize_image(args.image)
    if image not in known_images():
        return err(
            f"Unable to find image '{args.image}' locally\ndocker: Error response from daemon: pull access denied "
            f"for {args.image.rsplit(':', 1)[0]}, repository does not exist or may require 'docker login'.\n"
            "See 'docker run --help'.",
            125,
        )
    try:  # nvidia-container-cli refuses a device the machine does not have
        missing = [i for i in nvidia_smi.devices_requested(args.gpus) or [] if not 0 <= i < nvidia_smi.gpu_count()]
    except ValueError:
        missing = [args.gpus]
    if missing:
        return err(f"docker: Error response from daemon: failed to create task for container: OCI runtime create "
                   f"failed: nvidia-container-cli: device error: {missing[0]}: unknown device: unknown.", 125)
    labels = {}
    for item in args.label:
        key, _, value = item.partition("=")
        labels[key] = value
    workspace, mounts = _workspace(args.volume, args.workdir or "")
    if args.workdir and workspace is None:
        return err(f"docker: Error response from daemon: the simulator needs -w {args.workdir} inside a -v mount.", 125)
    if workspace and not os.path.isdir(workspace):
        return err(f"docker: Error response from daemon: invalid mount config: bind source path does not exist: {workspace}", 125)
    sim = SimConfig.load(workspace) if workspace else SimConfig()
    if sim.failure_for(job_id=labels.get("cosmos.job", "")) == "docker_start_failed":
        return err(START_FAILURE, 125)
    if workspace:
        _ensure_checkpoints(workspace)
    image_bin = os.environ.get("COSMOS_SIM_IMAGE_BIN", "")
    env = {
        "PATH": f"{image_bin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
        "PYTHONPATH": f"{IMAGE_ROOT}:{PROJECT_ROOT}",
        "COSMOS_SIM_JOB": labels.get("cosmos.job", ""),
        "COSMOS_SIM_IMAGE_BIN": image_bin,
    }
    for key in ("COSMOS_SIM_SPEED", "COSMOS_SIM_FAIL", "COSMOS_SIM_STATE", "COSMOS_SIM_GPUS"):
        if key in os.environ:
            env[key] = os.environ[key]
    container_env = []
    for item in args.env:
        key, has_value, value = item.partition("=")
        if not has_value:
            value = os.environ.get(key, "")
        env[key] = value
        container_env.append(f"{key}={value}")
    argv = _plain_shell(list(args.command))
    try:
        container = containers.create(name=args.name or "", image=image, labels=labels, argv=argv,
                                      cwd=workspace or str(Path.home()), env=env)
    except containers.NameInUse as exc:
        other = containers.find(str(exc))
        return err(
            f'docker: Error response from daemon: Conflict. The container name "/{exc}" is already in use by '
            f'container "{other.id}". You have to remove (or rename) that container to be able to reuse that name.\n'
            "See 'docker run --help'.",
            125,
        )
    config = container.config
    config.update({"ContainerWorkingDir": args.workdir or "/", "ContainerEnv": container_env, "Mounts": mounts,
                   "HostConfig": {"IpcMode": args.ipc or "private", "ShmSize": args.shm_size or "64m",
                                  "DeviceRequests": [{"Driver": "nvidia", "Count": -1, "Options": args.gpus}] if args.gpus else None,
                                  "AutoRemove": args.rm}})
    containers._write_json(container.folder / "config.json", config)
    containers.start(container)
    if args.detach:
        sys.stdout.write(container.id + "\n")
        return 0
    # Foreground: relay the output, then exit with the container's code, as `docker run` does.
    with open(container.log_path, "rb") as log:
        _relay(container, log)
    code = container.wait()
    if args.rm:
        container.remove()
    return code


def cmd_info(args) -> int:
    everything = containers.all_containers()
    running = sum(1 for c in everything if c.running())
    info = {
        "ID": "COSMOS-SIM",
        "Containers": len(everything),
        "ContainersRunning": running,
        "ContainersPaused": 0,
        "ContainersStopped": len(everything) - running,
        "Images": len(known_images()),
        "Driver": "overlay2",
        "ServerVersion": SERVER_VERSION,
        "OperatingSystem": "Cosmos host simulator (no Docker engine, no GPU)",
        "OSType": "linux",
        "Architecture": os.uname().machine,
        "NCPU": os.cpu_count(),
        "MemTotal": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"),
        "Name": socket.gethostname(),
        "Runtimes": {"nvidia": {"path": "nvidia-container-runtime"}, "runc": {"path": "runc"}},
        "DefaultRuntime": "runc",
        "Labels": ["cosmos-sim=1"],
    }
    if args.format:
        sys.stdout.write(render(args.format, info) + "\n")
        return 0
    sys.stdout.write(
        "Client:\n Version:    {v}\n Context:    default\n\nServer:\n Containers: {c}\n  Running: {r}\n  Stopped: {s}\n"
        " Images: {i}\n Server Version: {v}\n Runtimes: nvidia runc\n Default Runtime: runc\n"
        " Operating System: {os}\n Name: {n}\n Labels:\n  cosmos-sim=1\n".format(
            v=SERVER_VERSION, c=info["Containers"], r=running, s=info["ContainersStopped"], i=info["Images"],
            os=info["OperatingSystem"], n=info["Name"],
        )
    )
    return 0


def cmd_images(args) -> int:
    rows = []
    for image in known_images():
        repository, _, tag = image.rpartition(":")
        if args.reference and normalize_image(args.reference) != image and args.reference != repository:
            continue
        rows.append({"Repository": repository, "Tag": tag, "ID": image_id(image)[7:19], "CreatedSince": "2 months ago",
                     "CreatedAt": "2025-09-01 10:00:00 +0000 UTC", "Size": "48.2GB", "Digest": "<none>",
                     "Containers": "N/A", "VirtualSize": "48.2GB", "SharedSize": "N/A", "UniqueSize": "N/A"})
    if args.format:
        sys.stdout.writelines(render(args.format, row) + "\n" for row in rows)
    else:
        sys.stdout.write(f"{'REPOSITORY':<40}{'TAG':<10}{'IMAGE ID':<15}{'CREATED':<15}SIZE\n")
        for row in rows:
            sys.stdout.write(f"{row['Repository']:<40}{row['Tag']:<10}{row['ID']:<15}{row['CreatedSince']:<15}{row['Size']}\n")
    return 0


def cmd_version(args) -> int:
    sys.stdout.write(f"Client:\n Version: {SERVER_VERSION}\nServer: Cosmos host simulator\n Version: {SERVER_VERSION}\n")
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="docker", description="Cosmos host simulator: a stand-in for the Docker CLI.")
    sub = root.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run")
    run.add_argument("-d", "--detach", action="store_true")
    run.add_argument("--rm", action="store_true")
    run.add_argument("--name")
    run.add_argument("-l", "--label", action="append", default=[])
    run.add_argument("--gpus")
    run.add_argument("--ipc")
    run.add_argument("--shm-size")
    run.add_argument("-v", "--volume", action="append", default=[])
    run.add_argument("-e", "--env", action="append", default=[])
    run.add_argument("-w", "--workdir")
    run.add_argument("image")
    run.add_argument("command", nargs=argparse.REMAINDER)
    run.set_defaults(handler=cmd_run)

    ps = sub.add_parser("ps")
    ps.add_argument("-a", "--all", action="store_true")
    ps.add_argument("-q", "--quiet", action="store_true")
    ps.add_argument("--no-trunc", action="store_true")
    ps.add_argument("-f", "--filter", action="append", default=[])
    ps.add_argument("--format")
    ps.set_defaults(handler=cmd_ps)

    inspect = sub.add_parser("inspect")
    inspect.add_argument("-f", "--format")
    inspect.add_argument("names", nargs="+")
    inspect.set_defaults(handler=cmd_inspect)

    logs = sub.add_parser("logs")
    logs.add_argument("-f", "--follow", action="store_true")
    logs.add_argument("--since")
    logs.add_argument("-n", "--tail")
    logs.add_argument("name")
    logs.set_defaults(handler=cmd_logs)

    for name, handler in (("wait", cmd_wait), ("kill", cmd_kill)):
        p = sub.add_parser(name)
        p.add_argument("names", nargs="+")
        p.set_defaults(handler=handler)

    rm = sub.add_parser("rm")
    rm.add_argument("-f", "--force", action="store_true")
    rm.add_argument("names", nargs="+")
    rm.set_defaults(handler=cmd_rm)

    events = sub.add_parser("events")
    events.add_argument("--since")
    events.add_argument("--until")
    events.add_argument("-f", "--filter", action="append", default=[])
    events.add_argument("--format")
    events.set_defaults(handler=cmd_events)

    info = sub.add_parser("info")
    info.add_argument("-f", "--format")
    info.set_defaults(handler=cmd_info)

    images = sub.add_parser("images")
    images.add_argument("-f", "--format")
    images.add_argument("reference", nargs="?")
    images.set_defaults(handler=cmd_images)

    version = sub.add_parser("version")
    version.set_defaults(handler=cmd_version)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.handler(args)
    except BrokenPipeError:
        return 0
