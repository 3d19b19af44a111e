"""PNG frames to H.264 videos with PyAV: real files in, real videos out, decoded again to check them."""

from __future__ import annotations

import hashlib
from fractions import Fraction

import av
import numpy as np
import pytest
from av.video.reformatter import ColorRange, Colorspace, VideoReformatter
from PIL import Image

from prompts.prepare.discovery import SequenceInvalid, sequence_inspect
from prompts.prepare.encode import sequence_encode
from prompts.prepare.geometry import Fit, plan_fit
from prompts.prepare.testing import DEPTH_NEAR, write_sequence


def decoded(path) -> list[np.ndarray]:
    """The video's frames as full-range RGB, read the way the file is tagged (BT.709, limited range)."""
    reformatter = VideoReformatter()
    with av.open(str(path)) as container:
        return [
            reformatter.reformat(
                frame, format="rgb24", src_colorspace=Colorspace.ITU709, src_color_range=ColorRange.MPEG
            ).to_ndarray()
            for frame in container.decode(video=0)
        ]


def luma(path) -> list[np.ndarray]:
    """The video's luma planes on the 0-255 scale of the PNGs (the file is limited range: 16-235)."""
    with av.open(str(path)) as container:
        return [
            (frame.to_ndarray()[: frame.height].astype(float) - 16) * 255 / 219
            for frame in container.decode(video=0)
        ]


def encode(folder, out, *, fps=24, fit=Fit.PAD, progress=None):
    out.mkdir()
    report = sequence_inspect(folder)
    plan = plan_fit(report.color.size, fit)
    return sequence_encode(report, out, fps=Fraction(fps), plan=plan, progress=progress)


def test_each_pass_becomes_an_h264_mp4_at_the_fps_tagged_bt709(tmp_path):
    write_sequence(tmp_path / "seq", frames=range(1, 7))
    videos = encode(tmp_path / "seq", tmp_path / "out", fps=30)
    assert list(videos) == ["color", "depth", "segmentation"]
    for name, video in videos.items():
        assert video.path == tmp_path / "out" / f"{name}.mp4"
        assert video.frames == 6
        assert video.size == video.path.stat().st_size
        assert video.sha256 == hashlib.sha256(video.path.read_bytes()).hexdigest()
        with av.open(str(video.path)) as container:
            stream = container.streams.video[0]
            context = stream.codec_context
            assert (context.name, context.pix_fmt, context.width, context.height) == ("h264", "yuv420p", 1280, 704)
            assert stream.average_rate == 30
            assert (context.colorspace, context.color_primaries, context.color_trc) == (1, 1, 1)
            assert context.color_range == ColorRange.MPEG
            assert sum(1 for _ in container.decode(video=0)) == 6


def test_frames_are_coded_as_a_video_not_as_a_row_of_keyframes(tmp_path):
    # At the accepted size the decoded frames go to the encoder as they are, marked as I pictures.
    write_sequence(tmp_path / "seq", frames=range(1, 9), size=(1280, 704), passes=["color"])
    videos = encode(tmp_path / "seq", tmp_path / "out")
    with av.open(str(videos["color"].path)) as container:
        keyframes = [packet.is_keyframe for packet in container.demux(video=0) if packet.size]
    assert len(keyframes) == 8 and sum(keyframes) == 1


def test_the_picture_survives_the_trip(tmp_path):
    write_sequence(tmp_path / "seq", frames=range(1, 4), size=(1280, 704), passes=["color"])
    videos = encode(tmp_path / "seq", tmp_path / "out")
    source = np.asarray(Image.open(tmp_path / "seq" / "color.0002.png")).astype(int)
    assert np.abs(decoded(videos["color"].path)[1].astype(int) - source).mean() < 3


def test_16_bit_depth_is_stretched_over_the_range_the_pass_uses(tmp_path):
    write_sequence(tmp_path / "seq", frames=range(1, 4), size=(1280, 704), passes=["color", "depth"])
    videos = encode(tmp_path / "seq", tmp_path / "out")
    source = np.asarray(Image.open(tmp_path / "seq" / "depth.0001.png"))
    assert videos["depth"].value_range == (DEPTH_NEAR, int(source.max()))
    assert videos["color"].value_range is None
    gray = luma(videos["depth"].path)[0]
    expected = (source.astype(float) - DEPTH_NEAR) * 255 / (source.max() - DEPTH_NEAR)
    assert gray.min() <= 2 and gray.max() >= 253
    assert np.abs(gray - expected).mean() < 1.5


def test_8_bit_gray_keeps_its_full_range(tmp_path):
    """PNG gray is full range: 8 stays 8 and 248 stays 248, not clipped as limited-range video would be."""
    (tmp_path / "seq").mkdir()
    write_sequence(tmp_path / "seq", frames=[1, 2], size=(1280, 704), passes=["color"])
    gray = np.full((704, 1280), 8, np.uint8)
    gray[:, 640:] = 248
    for number in (1, 2):
        Image.fromarray(gray).save(tmp_path / "seq" / f"depth.{number:04d}.png")
    videos = encode(tmp_path / "seq", tmp_path / "out")
    gray = luma(videos["depth"].path)[0]
    assert abs(np.median(gray[:, :600]) - 8) <= 1.5
    assert abs(np.median(gray[:, 680:]) - 248) <= 1.5


def test_pad_keeps_the_whole_frame_between_black_bars(tmp_path):
    write_sequence(tmp_path / "seq", frames=[1, 2], size=(192, 108), passes=["color"])
    gray = luma(encode(tmp_path / "seq", tmp_path / "out", fit=Fit.PAD)["color"].path)[0]
    assert gray.shape == (704, 1280)
    assert gray[:, :12].max() <= 3 and gray[:, -12:].max() <= 3  # the 14-pixel bars
    assert gray[:, 20:-20].mean() > 60


def test_crop_fills_the_frame(tmp_path):
    write_sequence(tmp_path / "seq", frames=[1, 2], size=(192, 108), passes=["color"])
    gray = luma(encode(tmp_path / "seq", tmp_path / "out", fit=Fit.CROP)["color"].path)[0]
    assert gray.shape == (704, 1280)
    assert gray[:, :12].mean() > 40 and gray[:, -12:].mean() > 40


def test_segmentation_labels_are_not_blended_when_scaled(tmp_path):
    write_sequence(tmp_path / "seq", frames=[1], size=(96, 54), passes=["color", "segmentation"])
    frame = decoded(encode(tmp_path / "seq", tmp_path / "out", fit=Fit.CROP)["segmentation"].path)[0]
    # Nearest-neighbour scaling: the label boundary stays one hard edge (only 4:2:0 chroma softens it).
    column = frame[:, 900].astype(int)  # sky above ground, away from the square
    labels = np.array([(70, 130, 180), (128, 64, 128)])
    off_label = [np.abs(labels - pixel).max(axis=1).min() for pixel in column]
    assert sum(distance > 24 for distance in off_label) <= 2


def damage(path):
    """Flip a byte inside the pixel data: the header and the end marker stay intact."""
    data = bytearray(path.read_bytes())
    data[data.index(b"IDAT") + 20] ^= 0xFF
    path.write_bytes(bytes(data))


def test_every_damaged_frame_is_reported_across_passes(tmp_path):
    write_sequence(tmp_path / "seq", frames=range(1, 6))
    damage(tmp_path / "seq" / "color.0003.png")
    damage(tmp_path / "seq" / "color.0005.png")
    damage(tmp_path / "seq" / "depth.0002.png")
    assert sequence_inspect(tmp_path / "seq").ok  # headers and end markers are fine: only decoding finds it
    with pytest.raises(SequenceInvalid) as caught:
        encode(tmp_path / "seq", tmp_path / "out")
    assert sorted(caught.value.problems) == [
        f"{name} cannot be decoded (Invalid data found when processing input): render or copy it again."
        for name in ("color.0003.png", "color.0005.png", "depth.0002.png")
    ]


def test_progress_counts_every_frame_of_every_pass(tmp_path):
    write_sequence(tmp_path / "seq", frames=range(1, 6))
    seen = []
    encode(tmp_path / "seq", tmp_path / "out", progress=lambda stage, done, total: seen.append((stage, done, total)))
    # Normalized depth is gone through twice: once for its value range, once to encode.
    assert seen[-1] == ("encoding", 20, 20)
    assert all(done <= total for _stage, done, total in seen)


@pytest.mark.parametrize("mode", ["RGBA", "P", "L", "LA", "1", "I;16"])
def test_any_kind_of_png_is_encoded(tmp_path, mode):
    (tmp_path / "seq").mkdir()
    gradient = np.tile(np.linspace(0, 255, 64, dtype=np.uint8), (36, 1))
    picture = Image.fromarray(np.dstack([gradient, gradient, gradient]))
    for number in (1, 2):
        if mode == "I;16":
            image = Image.fromarray(gradient.astype(np.uint16) * 257)
        elif mode == "P":
            image = picture.convert("P", palette=Image.Palette.ADAPTIVE)
        else:
            image = picture.convert(mode)
        image.save(tmp_path / "seq" / f"color.{number:04d}.png")
    video = encode(tmp_path / "seq", tmp_path / "out")["color"]
    gray = luma(video.path)[0]
    # Padded into 1280x704 with black bars; the gradient runs from dark to bright inside.
    row = gray[352, 14:-14]
    assert video.frames == 2 and row[:20].mean() < 40 and row[-20:].mean() > (100 if mode == "1" else 200)
