"""Host management: who may do what, input validation, config import, the host check, the CLI."""

from __future__ import annotations

import json
import subprocess
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from gpu import selectors, services
from gpu.errors import HostInputInvalid, HostNameTaken, HostNotAllowed, HostNotFound
from gpu.models import GPUHost

pytestmark = pytest.mark.django_db


def ssh_fields(sshd, tmp_path, **changes):
    return {"name": "gpu-1", "transport": "ssh", "hostname": sshd.host, "port": sshd.port, "username": sshd.user,
            "key_path": str(sshd.client_key), "remote_dir": str(tmp_path / "remote"), "docker_cmd": "docker",
            "simulated": True, **changes}


def cosmos(*args) -> str:
    out = StringIO()
    call_command("cosmos", *args, stdout=out)
    return out.getvalue()


def test_staff_adds_a_host_and_others_cannot(staff, alice, sshd, tmp_path):
    with pytest.raises(HostNotAllowed):
        services.host_add(user=alice, **ssh_fields(sshd, tmp_path))
    assert not GPUHost.objects.exists()
    host = services.host_add(user=staff, **ssh_fields(sshd, tmp_path))
    assert (host.hostname, host.port, host.key_path, host.host_key) == (sshd.host, sshd.port, str(sshd.client_key), "")
    # Every signed-in user sees the hosts, never the key path.
    [summary] = [selectors.host_summary(h) for h in selectors.hosts_list(user=alice)]
    assert summary["name"] == "gpu-1" and summary["simulated"] is True
    assert str(sshd.client_key) not in json.dumps(summary)


def test_a_real_ssh_host_defaults_to_sudo_docker_and_the_cosmos_image(staff, sshd, tmp_path):
    host = services.host_add(user=staff, **ssh_fields(sshd, tmp_path, docker_cmd=None, simulated=False))
    assert (host.docker_cmd, host.image, host.slots) == ("sudo docker", "nvcr.io/ubuntu/cosmos-transfer1:latest", 1)


@pytest.mark.parametrize(("changes", "field"), [
    ({"name": "Bad Name"}, "name"),
    ({"name": ""}, "name"),
    ({"key_path": "/no/such/key"}, "key_path"),
    ({"key_path": ""}, "key_path"),
    ({"port": 0}, "port"),
    ({"port": 70000}, "port"),
    ({"port": "ssh"}, "port"),
    ({"hostname": "bad host"}, "hostname"),
    ({"username": "root;rm"}, "username"),
    ({"remote_dir": "relative/dir"}, "remote_dir"),
    ({"remote_dir": "/"}, "remote_dir"),
    ({"remote_dir": ""}, "remote_dir"),
    ({"image": "has space"}, "image"),
    ({"docker_cmd": "'unclosed"}, "docker_cmd"),
    ({"slots": 0}, "slots"),
    ({"sim_config": {"fail": "meteor"}}, "sim_config"),
    ({"sim_config": {"speed": 2}}, "sim_config"),
    ({"simulated": False, "sim_config": {"load_seconds": 1}}, "sim_config"),
])
def test_bad_input_is_refused_with_the_field_and_changes_nothing(staff, sshd, tmp_path, changes, field):
    with pytest.raises(HostInputInvalid) as exc:
        services.host_add(user=staff, **ssh_fields(sshd, tmp_path, **changes))
    assert exc.value.field == field and exc.value.message
    assert not GPUHost.objects.exists()


def test_key_files_are_checked_for_being_usable_keys(staff, sshd, tmp_path):
    not_a_key = tmp_path / "notes.txt"
    not_a_key.write_text("hello")
    with pytest.raises(HostInputInvalid, match="not a usable private key"):
        services.host_add(user=staff, **ssh_fields(sshd, tmp_path, key_path=str(not_a_key)))
    locked = tmp_path / "locked"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "a passphrase", "-f", str(locked)], check=True)
    with pytest.raises(HostInputInvalid, match="passphrase"):
        services.host_add(user=staff, **ssh_fields(sshd, tmp_path, key_path=str(locked)))


def test_names_are_unique(staff, sshd, tmp_path):
    services.host_add(user=staff, **ssh_fields(sshd, tmp_path))
    with pytest.raises(HostNameTaken):
        services.host_add(user=staff, **ssh_fields(sshd, tmp_path))
    assert GPUHost.objects.count() == 1


def test_a_local_simulated_host_gets_a_work_dir_in_the_data_dir(staff, settings):
    host = services.host_add(user=staff, name="laptop", transport="local", simulated=True)
    assert host.remote_dir == str(settings.DATA_DIR / "sim-hosts" / "laptop")
    assert (settings.DATA_DIR / "sim-hosts" / "laptop").is_dir()
    assert host.docker_cmd == "docker"
    with pytest.raises(HostInputInvalid) as exc:
        services.host_add(user=staff, name="box", transport="local", key_path="/k")
    assert exc.value.field == "hostname"
    with pytest.raises(HostInputInvalid) as exc:
        services.host_add(user=staff, name="box", transport="local", remote_dir="/no/such/cosmos")
    assert exc.value.field == "remote_dir"
    with pytest.raises(HostInputInvalid) as exc:
        services.host_add(user=staff, name="box", transport="local", simulated=True, docker_cmd="sudo docker")
    assert exc.value.field == "docker_cmd"


def test_the_embedded_setup_registers_one_simulated_host():
    host = services.host_default_ensure()
    assert (host.name, host.transport, host.simulated) == ("local-sim", "local", True)
    assert services.host_default_ensure() is None
    assert GPUHost.objects.count() == 1


def test_import_config_reads_the_seed_format(staff, sshd, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(f"""
[remote]
host = "{sshd.host}"
user = "{sshd.user}"
ssh_key = "{sshd.client_key}"
port = {sshd.port}

[paths]
remote_dir = "/home/ubuntu/NatsFS/cosmos-transfer1"
local_prompts_dir = "./inputs/prompts"

[docker]
image = "nvcr.io/ubuntu/cosmos-transfer1:v2"
shm_size = "8g"
""")
    host = services.host_import_config(user=staff, path=config).host
    assert (host.name, host.hostname, host.port, host.username) == ("127-0-0-1", sshd.host, sshd.port, sshd.user)
    assert (host.remote_dir, host.image, host.docker_cmd) == (
        "/home/ubuntu/NatsFS/cosmos-transfer1", "nvcr.io/ubuntu/cosmos-transfer1:v2", "sudo docker")
    broken = tmp_path / "broken.toml"
    broken.write_text("[remote\nhost=")
    with pytest.raises(HostInputInvalid, match="not valid TOML"):
        services.host_import_config(user=staff, path=broken)
    with pytest.raises(HostInputInvalid, match="No file"):
        services.host_import_config(user=staff, path=tmp_path / "absent.toml")


def test_check_pins_a_new_key_only_when_asked(staff, sshd, tmp_path):
    services.host_add(user=staff, **ssh_fields(sshd, tmp_path))
    refused = services.host_check(user=staff, name="gpu-1")
    assert not refused.ok and "`cosmos host check gpu-1 --accept-new-key`" in refused.items[0].detail
    assert GPUHost.objects.get(name="gpu-1").host_key == ""
    report = services.host_check(user=staff, name="gpu-1", accept_new_key=True)
    assert report.ok, report.as_dict()
    host = GPUHost.objects.get(name="gpu-1")
    assert host.host_key == sshd.host_key
    assert host.last_check["ok"] and host.last_checked_at
    assert report.gpus[0].simulated
    assert {item.name for item in report.items} >= {"host key", "docker", "image", "gpus", "disk", "python3"}


def test_check_refuses_a_changed_host_key_until_it_is_forgotten(staff, alice, sshd, tmp_path):
    services.host_add(user=staff, **ssh_fields(sshd, tmp_path))
    GPUHost.objects.filter(name="gpu-1").update(host_key="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBx8r0WmaVYr9m+LOB4Ap1SP0ta5jD0Ic1GGMo2XkR0d")
    report = services.host_check(user=staff, name="gpu-1", accept_new_key=True)
    assert not report.ok and "different machine" in report.items[0].detail
    with pytest.raises(HostNotAllowed):
        services.host_forget_key(user=alice, name="gpu-1")
    services.host_forget_key(user=staff, name="gpu-1")
    assert services.host_check(user=staff, name="gpu-1", accept_new_key=True).ok


def test_check_reports_an_unreachable_host(staff, sshd, tmp_path):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    services.host_add(user=staff, **ssh_fields(sshd, tmp_path, port=closed))
    report = services.host_check(user=staff, name="gpu-1")
    assert not report.ok and "refused the connection" in report.items[0].detail
    assert GPUHost.objects.get(name="gpu-1").last_check["ok"] is False


def test_check_a_local_simulated_host(staff, local_host):
    report = services.host_check(user=staff, name=local_host.name)
    assert report.ok and report.simulated and "SIMULATED" in next(i.detail for i in report.items if i.name == "gpus")


def test_only_staff_check_and_remove_and_a_host_must_be_disabled_first(staff, alice, local_host):
    with pytest.raises(HostNotAllowed):
        services.host_check(user=alice, name=local_host.name)
    with pytest.raises(HostInputInvalid, match="disable it first"):
        services.host_remove(user=staff, name=local_host.name)
    with pytest.raises(HostNotAllowed):
        services.host_set_enabled(user=alice, name=local_host.name, enabled=False)
    services.host_set_enabled(user=staff, name=local_host.name, enabled=False)
    assert not selectors.hosts_enabled().exists()
    services.host_remove(user=staff, name=local_host.name)
    with pytest.raises(HostNotFound):
        selectors.host_get(user=staff, name=local_host.name)


def test_cli_add_check_and_list_over_ssh(admin_user, sshd, tmp_path):
    out = cosmos("host", "add", "gpu-1", "--ssh", f"{sshd.user}@{sshd.host}:{sshd.port}", "--key", str(sshd.client_key),
                 "--remote-dir", str(tmp_path / "remote"), "--docker-cmd", "docker", "--simulated")
    assert "Added host gpu-1" in out and "--accept-new-key" in out
    report = json.loads(cosmos("host", "check", "gpu-1", "--accept-new-key", "--json"))
    assert report["ok"] and report["key_pinned"] and report["gpus"][0]["simulated"]
    listed = cosmos("host", "list", "--json")
    assert json.loads(listed)[0]["host_key"].startswith("ssh-ed25519 SHA256:")
    assert str(sshd.client_key) not in listed
    assert "gpu-1" in cosmos("host", "list")


def test_cli_add_and_check_a_local_simulated_host(admin_user):
    cosmos("host", "add", "laptop", "--local", "--simulated")
    out = cosmos("host", "check", "laptop")
    assert "SIMULATED" in out and "Ready" in out


def test_cli_errors_are_one_clear_line(admin_user, alice, tmp_path):
    with pytest.raises(CommandError, match="use USER@HOST"):
        cosmos("host", "add", "gpu-1", "--ssh", "no-user-here", "--key", "/k", "--remote-dir", "/r")
    with pytest.raises(CommandError, match="--key is for SSH hosts"):
        cosmos("host", "add", "laptop", "--local", "--simulated", "--key", "/k")
    with pytest.raises(CommandError, match="Only staff"):
        cosmos("host", "add", "laptop", "--local", "--simulated", "--user", "alice")
    with pytest.raises(CommandError, match="No GPU host named"):
        cosmos("host", "check", "nope")
    assert not GPUHost.objects.exists()


def test_the_admin_never_shows_the_key_path_and_keeps_it_when_left_blank(admin_user, client, sshd, tmp_path):
    host = services.host_add(user=admin_user, **ssh_fields(sshd, tmp_path))
    client.force_login(admin_user)
    url = f"/admin/gpu/gpuhost/{host.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200 and str(sshd.client_key) not in page.content.decode()
    form = {"name": "gpu-2", "transport": "ssh", "hostname": sshd.host, "port": sshd.port, "username": sshd.user,
            "key_path": "", "remote_dir": host.remote_dir, "docker_cmd": "docker", "image": host.image, "slots": 2,
            "gpus_per_job": 1, "shm_size": "8g", "enabled": "on", "simulated": "on", "sim_config": "{}"}
    assert client.post(url, form).status_code == 302
    host.refresh_from_db()
    assert (host.name, host.slots, host.key_path) == ("gpu-2", 2, str(sshd.client_key))
    bad = client.post(url, {**form, "remote_dir": "relative"})
    assert bad.status_code == 200 and "must be an absolute path" in bad.content.decode()
