"""Finding and checking the frames of a rendered sequence: every problem reported, at once."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from prompts.errors import InvalidInput
from prompts.prepare.discovery import SequenceInvalid, sequence_inspect
from prompts.prepare.testing import write_sequence


def problems_of(folder) -> list[str]:
    return sequence_inspect(folder).problems


def test_a_clean_sequence_has_no_problems_and_its_passes_in_order(tmp_path):
    write_sequence(tmp_path, frames=range(1, 6))
    report = sequence_inspect(tmp_path)
    assert report.ok and report.problems == [] and report.warnings == []
    assert list(report.passes) == ["color", "depth", "segmentation"]
    assert report.frame_count == 5
    assert report.color.size == (64, 36)
    assert report.passes["depth"].sixteen_bit and not report.color.sixteen_bit
    assert [p.name for p in report.color.paths] == [f"color.{n:04d}.png" for n in range(1, 6)]
    assert report.color.pattern == "color.####.png"


@pytest.mark.parametrize(
    "pattern",
    ["{name}.{number:04d}.png", "{name}_{number:04d}.png", "{name}-{number}.png", "{name}.{number:06d}.PNG"],
)
def test_accepted_frame_names(tmp_path, pattern):
    write_sequence(tmp_path, frames=range(8, 12), pattern=pattern)
    report = sequence_inspect(tmp_path)
    assert report.ok, report.problems
    assert report.color.numbers == (8, 9, 10, 11)


def test_pass_names_are_matched_in_any_case(tmp_path):
    write_sequence(tmp_path, passes=["color"], pattern="Color.{number:04d}.png")
    write_sequence(tmp_path, passes=["depth"], pattern="DEPTH.{number:04d}.png")
    assert list(sequence_inspect(tmp_path).passes) == ["color", "depth"]


def test_gaps_in_numbering_name_the_missing_frames(tmp_path):
    write_sequence(tmp_path, frames=[1, 2, 3, 5, 6, 9, 10], passes=["color"])
    assert problems_of(tmp_path) == [
        "color: frames 4, 7-8 are missing (the pass runs 1-10); render the missing frames or renumber the pass."
    ]


def test_a_frame_missing_inside_a_pass_is_reported_once_as_a_gap(tmp_path):
    write_sequence(tmp_path, frames=[1, 2, 4, 5])
    write_sequence(tmp_path, frames=[3], passes=["depth", "segmentation"])
    (tmp_path / "depth.0004.png").unlink()
    assert problems_of(tmp_path) == [
        "color: frame 3 is missing (the pass runs 1-5); render the missing frames or renumber the pass.",
        "depth: frame 4 is missing (the pass runs 1-5); render the missing frames or renumber the pass.",
    ]


def test_a_pass_with_other_frame_numbers_than_color_is_reported(tmp_path):
    write_sequence(tmp_path, frames=range(1, 11), passes=["color"])
    write_sequence(tmp_path, frames=range(1, 9), passes=["depth"])
    write_sequence(tmp_path, frames=range(2, 12), passes=["segmentation"])
    problems = problems_of(tmp_path)
    assert len(problems) == 2
    assert "depth does not match color: 8 frames against 10; depth lacks frames 9-10" in problems[0]
    assert "segmentation lacks frame 1;" in problems[1]
    assert "segmentation has frame 11 that color does not" in problems[1]


def test_frames_of_another_size_are_reported_with_their_size(tmp_path):
    write_sequence(tmp_path, frames=range(1, 5))
    write_sequence(tmp_path, frames=[3, 4], passes=["depth"], size=(32, 18))
    assert problems_of(tmp_path) == [
        "depth: frames 3-4 are 32x18; every frame must be 64x36 like the color frames."
    ]


def test_no_color_pass_is_a_problem(tmp_path):
    write_sequence(tmp_path, passes=["depth", "segmentation"])
    problems = problems_of(tmp_path)
    assert problems[0].startswith("No color pass: color frames (color.0001.png, ...) are required")
    assert "found only depth, segmentation" in problems[0]
    with pytest.raises(SequenceInvalid) as caught:
        sequence_inspect(tmp_path).raise_for_problems()
    assert caught.value.problems == problems
    assert isinstance(caught.value, InvalidInput)


def test_files_that_are_not_pngs_are_each_reported(tmp_path):
    write_sequence(tmp_path, frames=range(1, 7), passes=["color"])
    jpeg = io.BytesIO()
    Image.new("RGB", (64, 36)).save(jpeg, format="JPEG")
    (tmp_path / "color.0002.png").write_bytes(jpeg.getvalue())
    (tmp_path / "color.0003.png").write_text("not an image at all")
    whole = (tmp_path / "color.0004.png").read_bytes()
    (tmp_path / "color.0004.png").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "color.0005.png").write_bytes(b"")
    (tmp_path / "depth.0001.exr").write_bytes(b"exr")
    problems = problems_of(tmp_path)
    assert "color.0002.png is a JPEG file, not a PNG: export it as PNG." in problems
    assert "color.0003.png is not an image file." in problems
    assert "color.0004.png is cut short (no PNG end marker): render or copy it again." in problems
    assert "color.0005.png is not an image file." in problems
    assert "depth.0001.exr is not PNG: export the depth pass as PNG frames." in problems


def test_unknown_pass_names_and_unnamed_images_are_problems_other_files_warnings(tmp_path):
    write_sequence(tmp_path, passes=["color"])
    write_sequence(tmp_path, passes=["color"], pattern="colour.{number:04d}.png", frames=[1, 2])
    (tmp_path / "thumbnail.png").write_bytes((tmp_path / "color.0001.png").read_bytes())
    (tmp_path / "notes.txt").write_text("render notes")
    (tmp_path / ".DS_Store").write_bytes(b"\0")
    (tmp_path / "old").mkdir()
    report = sequence_inspect(tmp_path)
    assert report.problems == [
        "colour.0001.png, colour.0002.png: 'colour' is not a pass name; name the passes color, depth, "
        "segmentation, edge, vis, normal (color is required).",
        "thumbnail.png: not named like a frame; name frames <pass>.<number>.png, e.g. color.0001.png.",
    ]
    assert report.warnings == ["Ignored notes.txt: not image frames.", "Ignored the subfolder old."]


def test_a_pass_mixing_16_and_8_bit_frames_is_reported(tmp_path):
    write_sequence(tmp_path, frames=range(1, 5))
    write_sequence(tmp_path, frames=[4], passes=["depth"], depth_bits=8)
    assert problems_of(tmp_path) == [
        "depth: frames 1-3 are 16-bit but frame 4 is 8-bit; export the whole pass at one bit depth."
    ]


def test_the_same_frame_twice_is_reported(tmp_path):
    write_sequence(tmp_path, frames=range(1, 4))
    write_sequence(tmp_path, frames=[2], passes=["color"], pattern="color_{number}.png")
    assert problems_of(tmp_path) == [
        "color: frame 2 appears more than once (e.g. color.0002.png and color_2.png); keep one file per frame."
    ]


def test_every_problem_is_listed_at_once(tmp_path):
    write_sequence(tmp_path, frames=[1, 2, 4], passes=["color"])
    write_sequence(tmp_path, frames=[1, 2], passes=["depth"], size=(32, 18))
    (tmp_path / "segmentation.0001.jpg").write_bytes(b"jpeg")
    with pytest.raises(SequenceInvalid) as caught:
        sequence_inspect(tmp_path, label="renders.zip").raise_for_problems()
    error = caught.value
    assert len(error.problems) == 4
    assert error.message.startswith("The sequence in renders.zip has 4 problems; fix them and try again:\n  - ")
    for problem in error.problems:
        assert f"  - {problem}" in error.message


def test_an_empty_folder_says_what_frames_are_expected(tmp_path):
    (tmp_path / "renders").mkdir()
    assert problems_of(tmp_path) == [
        f"No frames found in {tmp_path}: expected PNG frames named like color.0001.png, depth.0001.png, "
        "segmentation.0001.png. The frames must lie directly in the folder, not in renders."
    ]


def test_a_missing_folder_is_invalid_input(tmp_path):
    with pytest.raises(InvalidInput, match="is not a folder"):
        sequence_inspect(tmp_path / "nope")


def test_frames_larger_than_the_limit_are_refused_from_the_header(tmp_path, monkeypatch):
    monkeypatch.setattr("prompts.prepare.discovery.MAX_SIDE", 48)
    write_sequence(tmp_path, frames=[1], passes=["color"])
    assert problems_of(tmp_path) == ["color.0001.png is 64x36, larger than 48 pixels a side."]
