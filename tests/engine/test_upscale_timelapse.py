"""Upscaling a saved result keeps its seed and runs only the new scales; timelapse frames and their
encoding."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from stylecore import OptionsError, Progress, StyleOptions, load_image
from stylecore.images import read_png_text, save_image
from stylecore.schedule import plan_scales
from stylecore.timelapse import encode_timelapse


def test_plan_above_a_size_keeps_only_the_larger_scales() -> None:
    assert [s.longest_side for s in plan_scales(1024, 100, above=512)] == [1024]
    plan = plan_scales(2048, 90, above=512)
    assert [s.longest_side for s in plan] == [1024, 2048] and sum(s.iterations for s in plan) == 90
    assert plan_scales(256, 10, multiscale=False, above=128) == plan_scales(256, 10, multiscale=False)


def test_upscaled_options_keep_seed_and_look_and_get_the_top_scale_iterations() -> None:
    original = StyleOptions(size=512, iterations=300, seed=42, style_weight=2.0).validated()
    up = original.upscaled(512)
    assert (up.size, up.init, up.upscale_from, up.seed, up.style_weight) == (1024, "image", 512, 42, 2.0)
    assert up.iterations == plan_scales(512, 300)[-1].iterations  # one new scale, the original's top effort
    assert original.upscaled(512, 4.0).iterations == 2 * up.iterations  # two new scales
    assert original.upscaled(512, iterations=7).iterations == 7
    with pytest.raises(OptionsError, match="factor must be above 1"):
        original.upscaled(512, 0.5)


def test_upscale_from_a_saved_result_keeps_the_seed(engine, content, style, tmp_path) -> None:
    first = engine.stylize(content, [style], StyleOptions(size=64, iterations=4, multiscale=False, seed=None))
    path = tmp_path / "result.png"
    save_image(first.image, path, text={"stylecore-options": first.options.to_json()})
    stored = StyleOptions.from_json(read_png_text(path)["stylecore-options"])
    assert stored == first.options

    ticks: list[Progress] = []
    up = engine.upscale(load_image(path), content, [style], stored, progress=ticks.append)
    assert up.options.seed == first.options.seed
    assert up.image.size == (128, 86)  # the 64x43 content at twice the size
    assert {(t.width, t.height) for t in ticks} == {(128, 86)}  # only the new scale ran
    again = engine.upscale(load_image(path), content, [style], stored)
    assert again.image.tobytes() == up.image.tobytes()


def test_frames_are_kept_evenly_and_encode_as_an_animation(engine, content, style) -> None:
    result = engine.stylize(
        content, [style], StyleOptions(size=64, iterations=9, multiscale=False, seed=1, timelapse_frames=4)
    )
    assert len(result.frames) == 4
    assert {frame.size for frame in result.frames} == {result.image.size}
    assert result.frames[-1].tobytes() == result.image.tobytes()  # the last frame is the result
    animation = encode_timelapse(result.frames)
    assert animation.format in ("webp", "gif") and animation.frames == 4
    with Image.open(io.BytesIO(animation.data)) as decoded:
        assert decoded.n_frames == 4 and decoded.size == result.image.size
        decoded.seek(3)
        decoded.load()
    gif = encode_timelapse(result.frames, format="gif")
    webp = encode_timelapse(result.frames, format="webp")
    assert len(animation.data) == min(len(gif.data), len(webp.data))


def test_timelapse_fits_a_byte_budget_by_dropping_frames_and_size() -> None:
    frames = [Image.effect_noise((256, 256), 60 + i).convert("RGB") for i in range(12)]
    big = encode_timelapse(frames)
    small = encode_timelapse(frames, max_bytes=len(big.data) // 6)
    assert len(small.data) <= len(big.data) // 6
    assert small.frames < 12 or small.width < 256
    with pytest.raises(OptionsError, match="at least one frame"):
        encode_timelapse([])


def test_no_frames_unless_asked(engine, content, style) -> None:
    result = engine.stylize(content, [style], StyleOptions(size=48, iterations=2, multiscale=False, seed=1))
    assert result.frames == ()
