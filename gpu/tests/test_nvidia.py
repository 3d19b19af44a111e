"""The NVIDIA formats are exactly the reference's: specs, batch JSONL, upscale spec, upsampler input."""

from __future__ import annotations

import json

import pytest

from gpu import nvidia
from gpu.errors import SpecInvalid


def test_inference_spec_matches_the_reference_shape():
    spec = nvidia.inference_spec(
        prompt="A futuristic city", negative_prompt="blurry", input_video="runs/rs_x/color.mp4",
        weights={"vis": 0.25, "edge": 0.25, "depth": 0.25, "seg": 0.25},
        control_inputs={"depth": "runs/rs_x/depth.mp4", "seg": "runs/rs_x/segmentation.mp4"},
    )
    assert spec == {
        "prompt": "A futuristic city", "negative_prompt": "blurry", "input_video_path": "runs/rs_x/color.mp4",
        "sigma_max": 70, "seed": 1, "num_steps": 35, "guidance": 5.0,
        "vis": {"control_weight": 0.25},
        "edge": {"control_weight": 0.25},
        "depth": {"control_weight": 0.25, "input_control": "runs/rs_x/depth.mp4"},
        "seg": {"control_weight": 0.25, "input_control": "runs/rs_x/segmentation.mp4"},
    }
    assert list(spec)[:7] == ["prompt", "negative_prompt", "input_video_path", "sigma_max", "seed", "num_steps", "guidance"]


def test_only_controls_above_zero_are_sent_with_their_inputs():
    spec = nvidia.inference_spec(prompt="p", negative_prompt="n", input_video="a.mp4",
                                 weights={"vis": 0, "edge": 0.4, "depth": 0.0}, control_inputs={"depth": "d.mp4"})
    assert [k for k in spec if k in nvidia.CONTROL_KEYS] == ["edge"]


def test_windows_paths_become_relative_posix_paths():
    spec = nvidia.inference_spec(prompt="p", negative_prompt="n", input_video="runs\\rs_x\\color.mp4",
                                 weights={"depth": 0.2}, control_inputs={"depth": ".\\runs\\rs_x\\depth.mp4"})
    assert spec["input_video_path"] == "runs/rs_x/color.mp4"
    assert spec["depth"]["input_control"] == "runs/rs_x/depth.mp4"
    assert nvidia.work_path("/workspace/cache/a.mp4", field="f") == "cache/a.mp4"


@pytest.mark.parametrize("path", ["/home/u/video.mp4", "C:\\Users\\me\\video.mp4", "../outside.mp4", "a/../../b.mp4"])
def test_paths_outside_the_work_dir_are_refused(path):
    with pytest.raises(SpecInvalid) as exc:
        nvidia.inference_spec(prompt="p", negative_prompt="n", input_video=path, weights={"vis": 0.5})
    assert exc.value.field == "input_video"
    with pytest.raises(SpecInvalid) as exc:
        nvidia.inference_spec(prompt="p", negative_prompt="n", input_video="a.mp4", weights={"depth": 0.5},
                              control_inputs={"depth": path})
    assert exc.value.field == "control_inputs.depth"


@pytest.mark.parametrize(("changes", "field"), [
    ({"weights": {"vis": -0.1}}, "weights.vis"),
    ({"weights": {"sharpness": 0.5}}, "weights"),
    ({"weights": {"vis": 0}}, "weights"),
    ({"weights": {"vis": True}}, "weights.vis"),
    ({"prompt": "  "}, "prompt"),
    ({"input_video": None}, "input_video"),
    ({"num_steps": 0}, "num_steps"),
    ({"num_steps": 2.5}, "num_steps"),
    ({"guidance": float("nan")}, "guidance"),
    ({"canny_threshold": "extreme"}, "canny_threshold"),
    ({"control_inputs": {"upscale": "u.mp4"}}, "control_inputs"),
])
def test_bad_values_name_their_field(changes, field):
    values = {"prompt": "p", "negative_prompt": "n", "input_video": "a.mp4", "weights": {"vis": 0.5}, **changes}
    with pytest.raises(SpecInvalid) as exc:
        nvidia.inference_spec(**values)
    assert exc.value.field == field


def test_no_input_video_is_fine_only_from_sigma_max_80():
    spec = nvidia.inference_spec(prompt="p", negative_prompt="n", input_video=None, weights={"depth": 0.5},
                                 control_inputs={"depth": "d.mp4"}, sigma_max=80)
    assert "input_video_path" not in spec and spec["sigma_max"] == 80


def test_batch_jsonl_and_base_spec():
    items = [
        {"prompt": "City scene", "input_video": "video1.mp4", "weights": {"vis": 0.3, "depth": 0.2}},
        {"prompt": "Street view", "input_video": "video2.mp4", "weights": {"vis": 0.4, "seg": 0.3},
         "control_inputs": {"seg": "runs\\b\\seg.mp4"}},
    ]
    lines = [json.loads(line) for line in nvidia.batch_jsonl(items).splitlines()]
    assert lines == [
        {"visual_input": "video1.mp4", "prompt": "City scene", "control_overrides": {
            "vis": {"control_weight": 0.3},
            "depth": {"input_control": None, "control_weight": 0.2},
            "seg": {"control_weight": 0.0}}},
        {"visual_input": "video2.mp4", "prompt": "Street view", "control_overrides": {
            "vis": {"control_weight": 0.4},
            "depth": {"control_weight": 0.0},
            "seg": {"input_control": "runs/b/seg.mp4", "control_weight": 0.3}}},
    ]
    base = nvidia.batch_base_spec(items, negative_prompt="n", num_steps=20)
    assert base == {"negative_prompt": "n", "sigma_max": 70, "seed": 1, "num_steps": 20, "guidance": 5.0,
                    "vis": {"control_weight": 0.4}, "depth": {"control_weight": 0.2}, "seg": {"control_weight": 0.3}}


def test_upscale_spec():
    assert nvidia.upscale_spec(input_video="jobs/r1/outputs/output.mp4") == {
        "input_video_path": "jobs/r1/outputs/output.mp4", "upscale": {"control_weight": 0.5}}
    assert nvidia.upscale_spec(input_video="o.mp4", weight=0.7, prompt="sharp")["prompt"] == "sharp"
    for weight in (0, 1.5, -1):
        with pytest.raises(SpecInvalid):
            nvidia.upscale_spec(input_video="o.mp4", weight=weight)


def test_enhance_input_and_results():
    items = nvidia.enhance_input([{"name": "ps_1", "prompt": "a car", "video_path": "cache\\a.mp4"}])
    assert items == [{"name": "ps_1", "prompt": "a car", "video_path": "cache/a.mp4"}]
    with pytest.raises(SpecInvalid):
        nvidia.enhance_input([{"name": "x", "prompt": "a", "video_path": "v.mp4"}] * 2)
    scaled = nvidia.enhance_input([{"name": "x", "prompt": "a", "video_path": "v.mp4", "resolution": 480}])
    assert scaled[0]["resolution"] == 480
    with pytest.raises(SpecInvalid, match="resolution"):
        nvidia.enhance_input([{"name": "x", "prompt": "a", "video_path": "v.mp4", "resolution": 32}])
    results = nvidia.parse_batch_results(json.dumps([
        {"name": "ps_1", "original_prompt": "a", "upsampled_prompt": "a, richer", "video_path": "v", "success": True},
        {"name": "ps_2", "original_prompt": "b", "video_path": "v", "success": False, "error": "OOM"},
    ]))
    assert [r["success"] for r in results] == [True, False]
    with pytest.raises(SpecInvalid):
        nvidia.parse_batch_results('[{"name": "ps_1", "success": true}]')
