"""Both transports behave the same: commands, streaming, verified atomic copies, file operations."""

from __future__ import annotations

import hashlib
import os
import shlex
import sys
import threading
import time

import pytest

from gpu.errors import RemoteCommandFailed, RemotePathNotFound, TransportError, TransportTimeout
from gpu.transports import LocalTransport, SSHTransport


@pytest.fixture(params=["ssh", "local"])
def transport(request):
    if request.param == "local":
        t = LocalTransport()
    else:
        sshd = request.getfixturevalue("sshd")
        t = SSHTransport(hostname=sshd.host, port=sshd.port, username=sshd.user, key_path=str(sshd.client_key),
                         host_key=sshd.host_key)
    with t:
        yield t


def sh(script: str) -> list[str]:
    return ["sh", "-c", script]


def test_run_returns_exit_code_stdout_and_stderr(transport):
    result = transport.run(sh("echo out; echo err >&2; exit 3"))
    assert (result.exit_code, result.stdout, result.stderr) == (3, "out\n", "err\n")
    assert not result.ok


def test_run_quotes_every_argument(transport, tmp_path):
    tricky = "a b; rm -rf / $(touch pwned) 'quote' \"double\" `tick`"
    result = transport.run(["printf", "%s", tricky])
    assert result.stdout == tricky
    assert not (tmp_path / "pwned").exists()


def test_missing_program_exits_127(transport):
    assert transport.run(["no-such-program-cosmos"]).exit_code == 127


def test_check_raises_with_the_last_error_line(transport):
    with pytest.raises(RemoteCommandFailed) as exc:
        transport.run(sh("echo first >&2; echo 'the real problem' >&2; exit 2")).check("Doing it")
    assert exc.value.exit_code == 2
    assert "Doing it failed" in exc.value.message and "the real problem" in exc.value.message


def test_run_timeout_is_reported_and_the_transport_still_works(transport):
    started = time.monotonic()
    with pytest.raises(TransportTimeout):
        transport.run(["sleep", "5"], timeout=0.5)
    assert time.monotonic() - started < 4
    assert transport.run(["echo", "alive"]).stdout == "alive\n"


def test_stream_hands_over_lines_while_the_command_runs(transport, tmp_path):
    gate = tmp_path / "gate"
    command = sh(f"echo first; while [ ! -e {shlex.quote(str(gate))} ]; do sleep 0.02; done; echo second")
    with transport.stream(command) as stream:
        lines = iter(stream)
        assert next(lines) == "first"  # arrives although the command has not finished
        gate.touch()
        assert list(lines) == ["second"]
    assert stream.exit_code == 0


def test_stream_gives_the_partial_last_line_stderr_and_exit_code(transport):
    with transport.stream(sh("echo one; echo two >&2; printf 'no newline'; exit 4")) as stream:
        lines = list(stream)
    assert sorted(lines) == ["no newline", "one", "two"]
    assert stream.exit_code == 4


def test_stream_can_keep_stderr_apart(transport):
    with transport.stream(sh("echo out; echo err >&2; exit 0"), merge_stderr=False) as stream:
        assert list(stream) == ["out"]
    assert stream.stderr == "err\n"


def test_stream_idle_timeout_reports_a_silent_connection(transport):
    with pytest.raises(TransportError):
        with transport.stream(["sleep", "5"], idle_timeout=1) as stream:
            list(stream)


def test_put_and_get_are_verified_and_leave_no_temporary_files(transport, tmp_path):
    data = os.urandom(3 * 1024 * 1024 + 123)
    source = tmp_path / "source.bin"
    source.write_bytes(data)
    remote_dir = tmp_path / "remote"
    remote_dir.mkdir()
    progress = []
    size = transport.put(source, str(remote_dir / "copy.bin"), on_progress=lambda done, total: progress.append((done, total)))
    assert size == len(data)
    assert progress[-1] == (len(data), len(data))
    assert transport.sha256(str(remote_dir / "copy.bin")) == hashlib.sha256(data).hexdigest()
    back = tmp_path / "back" / "copy.bin"
    transport.get(str(remote_dir / "copy.bin"), back)
    assert back.read_bytes() == data
    assert sorted(os.listdir(remote_dir)) == ["copy.bin"]
    assert sorted(os.listdir(back.parent)) == ["copy.bin"]


def test_put_replaces_an_existing_file_atomically(transport, tmp_path):
    target = tmp_path / "target.txt"
    target.write_text("old")
    source = tmp_path / "new.txt"
    source.write_text("new content")
    transport.put(source, str(target))
    assert target.read_text() == "new content"


def test_get_of_a_missing_file_leaves_nothing(transport, tmp_path):
    with pytest.raises(RemotePathNotFound):
        transport.get(str(tmp_path / "absent.bin"), tmp_path / "local" / "absent.bin")
    assert not (tmp_path / "local" / "absent.bin").exists()
    assert os.listdir(tmp_path / "local") == []


def test_put_into_a_missing_folder_fails_cleanly(transport, tmp_path):
    source = tmp_path / "s.txt"
    source.write_text("x")
    with pytest.raises(TransportError):
        transport.put(source, str(tmp_path / "no" / "such" / "dir" / "s.txt"))


def test_file_operations(transport, tmp_path):
    folder = str(tmp_path / "a" / "b")
    transport.mkdir_p(folder)
    transport.mkdir_p(folder)  # idempotent
    assert transport.stat(folder).is_dir
    transport.write_text(f"{folder}/note.txt", "héllo\n")
    assert transport.read_text(f"{folder}/note.txt") == "héllo\n"
    assert transport.exists(f"{folder}/note.txt")
    info = transport.stat(f"{folder}/note.txt")
    assert info.size == len("héllo\n".encode()) and not info.is_dir
    (tmp_path / "a" / "b" / "deep").mkdir()
    (tmp_path / "a" / "b" / "deep" / "x.bin").write_bytes(b"12345")
    assert transport.list_files(str(tmp_path / "a")) == {"b/deep/x.bin": 5, "b/note.txt": info.size}
    assert transport.list_files(str(tmp_path / "absent")) == {}
    transport.remove(f"{folder}/note.txt")
    transport.remove(f"{folder}/note.txt")  # absent is fine
    assert not transport.exists(f"{folder}/note.txt")
    with pytest.raises(RemotePathNotFound):
        transport.stat(f"{folder}/note.txt")
    transport.remove(str(tmp_path / "a"), recursive=True)
    assert not (tmp_path / "a").exists()
    assert transport.home_dir().startswith("/")


def test_threads_can_share_a_transport(transport, tmp_path):
    (tmp_path / "f.txt").write_text("x")
    lines, errors = [], []

    def follow():
        try:
            with transport.stream(sh("for i in 1 2 3 4 5; do echo $i; sleep 0.05; done")) as stream:
                lines.extend(stream)
        except Exception as exc:  # handed to the assertion below
            errors.append(exc)

    def files():
        try:
            for _ in range(10):
                assert transport.read_text(str(tmp_path / "f.txt")) == "x"
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=follow), threading.Thread(target=files)]
    for thread in threads:
        thread.start()
    for _ in range(10):
        assert transport.run(["true"]).ok and transport.exists(str(tmp_path / "f.txt"))
    for thread in threads:
        thread.join()
    assert errors == [] and lines == ["1", "2", "3", "4", "5"]


def test_local_transport_adds_its_environment(tmp_path):
    t = LocalTransport(env={"COSMOS_TEST_VALUE": "42"})
    assert t.run([sys.executable, "-c", "import os; print(os.environ['COSMOS_TEST_VALUE'])"]).stdout == "42\n"
