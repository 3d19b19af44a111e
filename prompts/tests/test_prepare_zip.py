"""Unpacking uploaded zips: escapes, empty zips and bombs are refused before anything is written."""

from __future__ import annotations

import stat
import zipfile

import pytest

from prompts.errors import InvalidInput
from prompts.prepare.testing import write_sequence, zip_folder
from prompts.prepare.zipintake import ZipLimits, zip_check, zip_extract


@pytest.fixture
def dest(tmp_path):
    folder = tmp_path / "dest"
    folder.mkdir()
    return folder


def make_zip(path, entries: dict[str, bytes], compression=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return path


def refused(path, dest, match, **limits):
    with pytest.raises(InvalidInput, match=match) as caught:
        zip_extract(path, dest, label="renders.zip", limits=ZipLimits(**limits))
    assert list(dest.iterdir()) == [], "a refused zip must leave nothing behind"
    assert caught.value.field == "zip"
    return caught.value


def test_a_zip_wrapping_its_frames_in_a_folder_unpacks_to_that_folder(tmp_path, dest):
    write_sequence(tmp_path / "renders", frames=range(1, 4))
    archive = zip_folder(tmp_path / "renders", tmp_path / "renders.zip", wrap="shot_010")
    folder = zip_extract(archive, dest, label="renders.zip")
    assert folder == dest / "shot_010"
    assert sorted(p.name for p in folder.iterdir())[:2] == ["color.0001.png", "color.0002.png"]
    assert len(list(folder.iterdir())) == 9


def test_frames_at_the_top_of_the_zip_unpack_in_place_and_macos_extras_are_skipped(tmp_path, dest):
    archive = make_zip(tmp_path / "a.zip", {"color.0001.png": b"png", "__MACOSX/._color.0001.png": b"fork"})
    assert zip_extract(archive, dest, label="a.zip") == dest
    assert [p.name for p in dest.iterdir()] == ["color.0001.png"]


@pytest.mark.parametrize("name", ["../evil.png", "frames/../../evil.png", "/etc/evil.png", "..\\evil.png", "C:/evil.png"])
def test_entries_that_escape_the_folder_are_refused(tmp_path, dest, name):
    archive = make_zip(tmp_path / "slip.zip", {"color.0001.png": b"png", name: b"evil"})
    refused(archive, dest, "points outside the zip's folder")
    assert not (tmp_path / "evil.png").exists()


def test_a_link_inside_the_zip_is_refused(tmp_path, dest):
    archive = tmp_path / "link.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        info = zipfile.ZipInfo("color.0001.png")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zipped.writestr(info, "/etc/passwd")
    refused(archive, dest, "is a link")


@pytest.mark.parametrize("entries", [{}, {"renders/": b"", "renders/empty/": b""}])
def test_an_empty_zip_is_refused(tmp_path, dest, entries):
    archive = make_zip(tmp_path / "empty.zip", entries)
    refused(archive, dest, "renders.zip is empty: zip the folder that holds the PNG frames")


def test_a_file_that_is_not_a_zip_is_refused(tmp_path, dest):
    (tmp_path / "fake.zip").write_bytes(b"PK but not really")
    refused(tmp_path / "fake.zip", dest, "is not a readable zip file")


def test_a_zip_bomb_is_refused_before_unpacking(tmp_path, dest):
    archive = make_zip(tmp_path / "bomb.zip", {"color.0001.png": bytes(50 * 1024 * 1024)})
    assert archive.stat().st_size < 200 * 1024
    error = refused(archive, dest, "looks like a zip bomb")
    assert "would expand" in error.message


def test_many_small_entries_that_expand_too_much_together_are_refused(tmp_path, dest):
    entries = {f"color.{n:04d}.png": bytes(100 * 1024) for n in range(1, 21)}  # each under the floor
    archive = make_zip(tmp_path / "bomb.zip", entries)
    refused(archive, dest, "it would expand", ratio_floor_bytes=1024 * 1024)


def test_too_many_entries_are_refused(tmp_path, dest):
    archive = make_zip(tmp_path / "many.zip", {f"color.{n:04d}.png": b"png" for n in range(1, 12)})
    refused(archive, dest, "holds 11 entries; at most 10 are accepted", max_entries=10)


def test_too_much_unpacked_data_is_refused(tmp_path, dest):
    archive = make_zip(tmp_path / "big.zip", {"color.0001.png": b"x" * 4096}, compression=zipfile.ZIP_STORED)
    refused(archive, dest, "would unpack to 0.0 MiB; at most 0.0 MiB is accepted", max_unpacked_bytes=1024)


def test_a_zip_whose_header_lies_about_sizes_fails_while_unpacking(tmp_path, dest):
    archive = make_zip(tmp_path / "liar.zip", {"color.0001.png": bytes(4 * 1024 * 1024)})
    data = bytearray(archive.read_bytes())
    real = (4 * 1024 * 1024).to_bytes(4, "little")
    claimed = (1000).to_bytes(4, "little")
    assert data.count(real) == 2  # the local header and the central directory
    archive.write_bytes(bytes(data).replace(real, claimed))
    zip_check(archive, label="liar.zip")  # the directory alone looks harmless
    with pytest.raises(InvalidInput, match="is damaged"):
        zip_extract(archive, dest, label="liar.zip")
    extracted = dest / "color.0001.png"
    assert not extracted.exists() or extracted.stat().st_size <= 1000


def test_the_same_entry_twice_is_refused(tmp_path, dest):
    archive = tmp_path / "twice.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("color.0001.png", b"a")
        zipped.writestr("./color.0001.png", b"b")
    refused(archive, dest, "holds ./color.0001.png twice")


def test_an_encrypted_entry_is_refused(tmp_path, dest):
    archive = make_zip(tmp_path / "secret.zip", {"color.0001.png": b"png"})
    data = bytearray(archive.read_bytes())
    # Set the "encrypted" flag bit in the central directory entry (offset 8 after its signature).
    central = data.index(b"PK\x01\x02")
    data[central + 8] |= 0x1
    archive.write_bytes(bytes(data))
    refused(archive, dest, "is encrypted")
