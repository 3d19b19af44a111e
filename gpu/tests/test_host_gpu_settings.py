"""A host's GPUs per job and shared memory size: validation, `cosmos host edit`, the admin,
`host import-config` and the host check."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from gpu import services
from gpu.errors import HostInputInvalid, HostNotAllowed
from gpu.models import GPUHost

pytestmark = pytest.mark.django_db

TWO_GPUS = {"ok": True, "summary": "ready, 2 GPUs", "gpus": [{"index": 0}, {"index": 1}]}


def cosmos(*args) -> str:
    """The command as staff user sam (the `staff` fixture), unless `--user` says otherwise."""
    out = StringIO()
    call_command("cosmos", *args, *(() if "--user" in args else ("--user", "sam")), stdout=out)
    return out.getvalue()


@pytest.fixture
def box(staff):
    """A local simulated host whose last check saw two GPUs."""
    host = services.host_add(user=staff, name="box", transport="local", simulated=True)
    GPUHost.objects.filter(pk=host.pk).update(last_check=TWO_GPUS)
    host.refresh_from_db()
    return host


def seed_config(tmp_path, sshd, sections: str):
    """A seed config.toml for the sshd's host, with these [docker] / [execution] sections."""
    path = tmp_path / "config.toml"
    path.write_text(f"""
[remote]
host = "{sshd.host}"
user = "{sshd.user}"
ssh_key = "{sshd.client_key}"
port = {sshd.port}

[paths]
remote_dir = "/home/ubuntu/cosmos-transfer1"
{sections}""")
    return path


def stored(host: GPUHost) -> tuple:
    host.refresh_from_db()
    return host.slots, host.gpus_per_job, host.shm_size


def test_a_new_host_gets_one_gpu_per_job_and_8g_of_shared_memory(staff):
    host = services.host_add(user=staff, name="box", transport="local", simulated=True)
    assert (host.gpus_per_job, host.shm_size) == (1, "8g")


@pytest.mark.parametrize("size", ["8", "8x", "g", "0g", "-1g", "512k", "1.5g", "8 g", "9999999g", ""])
def test_a_bad_shared_memory_size_is_refused(staff, size):
    with pytest.raises(HostInputInvalid) as exc:
        services.host_add(user=staff, name="box", transport="local", simulated=True, shm_size=size)
    assert exc.value.field == "shm_size" and "like 8g or 512m" in exc.value.message
    assert not GPUHost.objects.exists()


@pytest.mark.parametrize(("size", "kept"), [("16g", "16g"), ("512M", "512m"), ("8GB", "8g"), ("2048mb", "2048m")])
def test_shared_memory_sizes_are_kept_in_dockers_short_form(staff, size, kept):
    assert services.host_add(user=staff, name="box", transport="local", simulated=True, shm_size=size).shm_size == kept


@pytest.mark.parametrize("value", [0, -1, "two", None])
def test_gpus_per_job_must_be_a_whole_number_from_one(staff, value):
    with pytest.raises(HostInputInvalid) as exc:
        services.host_add(user=staff, name="box", transport="local", simulated=True, gpus_per_job=value)
    assert exc.value.field == "gpus_per_job"
    assert not GPUHost.objects.exists()


def test_staff_edits_a_host_within_the_gpus_its_check_saw(staff, box):
    host = services.host_update(user=staff, name="box", slots=2, shm_size="16g")
    assert stored(host) == (2, 1, "16g")
    host = services.host_update(user=staff, name="box", slots=1, gpus_per_job=2)
    assert stored(host) == (1, 2, "16g")


@pytest.mark.parametrize("changes", [{"slots": 3}, {"slots": 2, "gpus_per_job": 2}, {"gpus_per_job": 3}])
def test_more_gpus_than_the_last_check_saw_are_refused_and_nothing_is_saved(staff, box, changes):
    with pytest.raises(HostInputInvalid) as exc:
        services.host_update(user=staff, name="box", shm_size="1g", **changes)
    assert "the host's last check saw 2" in exc.value.message
    assert stored(box) == (1, 1, "8g")


def test_a_host_never_checked_takes_any_number_of_gpus(staff):
    host = services.host_add(user=staff, name="box", transport="local", simulated=True, slots=4, gpus_per_job=2)
    assert (host.slots, host.gpus_per_job, host.gpu_count) == (4, 2, 8)


def test_only_staff_edit_hosts(alice, box):
    with pytest.raises(HostNotAllowed):
        services.host_update(user=alice, name="box", gpus_per_job=2)
    assert stored(box) == (1, 1, "8g")


def test_the_name_and_transport_are_not_editable(staff, box):
    with pytest.raises(HostInputInvalid, match="Cannot change transport"):
        services.host_update(user=staff, name="box", transport="ssh")


def test_cosmos_host_edit_changes_only_what_is_given(staff, box):
    out = cosmos("host", "edit", "box", "--gpus-per-job", "2", "--shm-size", "32g")
    assert "1 slot(s) x 2 GPU(s) per job, shm 32g" in out
    assert stored(box) == (1, 2, "32g")
    summary = json.loads(cosmos("host", "edit", "box", "--gpus-per-job", "1", "--slots", "2", "--json"))
    assert (summary["slots"], summary["gpus_per_job"], summary["shm_size"]) == (2, 1, "32g")
    listing = cosmos("host", "list")
    assert "GPUs/job" in listing


def test_cosmos_host_edit_refuses_bad_settings_with_the_reason(staff, alice, box):
    with pytest.raises(CommandError, match="need 4 GPUs, but the host's last check saw 2"):
        cosmos("host", "edit", "box", "--slots", "2", "--gpus-per-job", "2")
    with pytest.raises(CommandError, match="like 8g or 512m"):
        cosmos("host", "edit", "box", "--slots", "2", "--shm-size", "lots")
    with pytest.raises(CommandError, match="Nothing to change"):
        cosmos("host", "edit", "box")
    with pytest.raises(CommandError, match="Only staff"):
        cosmos("host", "edit", "box", "--slots", "2", "--user", "alice")
    assert stored(box) == (1, 1, "8g")


def test_cosmos_host_add_takes_gpus_per_job_and_shm_size(staff):
    cosmos("host", "add", "box", "--local", "--simulated", "--slots", "2", "--gpus-per-job", "2", "--shm-size", "4g")
    assert stored(GPUHost.objects.get(name="box")) == (2, 2, "4g")


def test_the_admin_edits_gpus_per_job_and_refuses_more_than_the_host_has(admin_user, client, box):
    client.force_login(admin_user)
    url = f"/admin/gpu/gpuhost/{box.pk}/change/"
    form = {"name": "box", "transport": "local", "hostname": "", "port": 22, "username": "", "key_path": "",
            "remote_dir": box.remote_dir, "docker_cmd": "docker", "image": box.image, "slots": 1, "gpus_per_job": 2,
            "shm_size": "16g", "enabled": "on", "simulated": "on", "sim_config": "{}"}
    assert client.post(url, form).status_code == 302
    assert stored(box) == (1, 2, "16g")
    refused = client.post(url, {**form, "slots": 2})
    assert refused.status_code == 200 and "the host&#x27;s last check saw 2" in refused.content.decode()
    refused = client.post(url, {**form, "shm_size": "huge"})
    assert refused.status_code == 200 and "like 8g or 512m" in refused.content.decode()
    assert stored(box) == (1, 2, "16g")


def test_import_config_takes_shm_size_and_says_where_the_execution_defaults_go(staff, sshd, tmp_path, settings):
    settings.COSMOS = {**settings.COSMOS, "DEFAULT_NUM_STEPS": 35}
    config = seed_config(tmp_path, sshd, """
[docker]
image = "nvcr.io/ubuntu/cosmos-transfer1:latest"
shm_size = "16g"
ipc_mode = "private"

[execution]
default_num_steps = 35
default_guidance_scale = 7.0
offload_models = true
""")
    imported = services.host_import_config(user=staff, path=config)
    assert imported.host.shm_size == "16g"
    notes = "\n".join(imported.notes)
    assert "set COSMOS_DEFAULT_NUM_STEPS=35 in the server's environment (already so)" in notes
    assert "set COSMOS_DEFAULT_GUIDANCE=7.0" in notes and "(now 8.0)" in notes
    assert "offload_models is not a setting here" in notes
    assert "ipc_mode = 'private' is not used" in notes
    out = cosmos("host", "import-config", str(config), "--name", "other")
    assert "COSMOS_DEFAULT_GUIDANCE=7.0" in out and "shm 16g" in out


def test_import_config_refuses_a_bad_shm_size_and_adds_nothing(staff, sshd, tmp_path):
    config = seed_config(tmp_path, sshd, """
[docker]
shm_size = "a lot"
""")
    with pytest.raises(HostInputInvalid) as exc:
        services.host_import_config(user=staff, path=config)
    assert exc.value.field == "shm_size"
    assert not GPUHost.objects.exists()


def test_the_host_check_warns_when_the_slots_need_more_gpus_than_it_sees(staff, make_local_host):
    host = make_local_host(slots=2, gpus_per_job=1)  # the simulator shows one GPU unless told otherwise
    report = services.host_check(user=staff, name=host.name)
    [warning] = [item for item in report.items if item.name == "gpu slots"]
    assert warning.status == "warn" and "need 2 GPUs, the host has 1" in warning.detail
    host.slots = 1
    host.save()
    assert not [item for item in services.host_check(user=staff, name=host.name).items if item.name == "gpu slots"]
