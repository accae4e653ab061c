"""The real engine end to end on tiny images: losses fall, options matter, cancel and deadline hold."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from PIL import Image

from stylecore import Cancelled, Engine, OptionsError, OutOfMemoryError, Progress, StyleOptions
from stylecore.colors import rgb_to_yiq

FAST = StyleOptions(size=48, iterations=6, multiscale=False, seed=3)


def _pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.float64)


def _losses(engine, content, styles, options, **kwargs) -> list[Progress]:
    ticks: list[Progress] = []
    engine.stylize(content, styles, options.with_values(progress_every=1), progress=ticks.append, **kwargs)
    return ticks


def test_result_has_the_content_aspect_at_the_requested_size(engine, content, style) -> None:
    result = engine.stylize(content, [style], FAST)
    assert result.image.mode == "RGB"
    assert max(result.image.size) == 48
    assert result.image.size[0] / result.image.size[1] == pytest.approx(content.size[0] / content.size[1], rel=0.05)
    assert result.iterations == 6 and result.stopped == "finished" and not result.stopped_early
    assert result.options.seed == 3 and result.device == engine.device


def test_a_short_run_lowers_both_losses_from_a_noise_start(engine, content, style) -> None:
    # Weights balanced so that neither term has to give way to the other early on.
    ticks = _losses(engine, content, [style], FAST.with_values(init="noise", iterations=12, style_weight=0.1))
    first, last = ticks[0], ticks[-1]
    assert last.content_loss < 0.9 * first.content_loss
    assert last.style_loss < 0.7 * first.style_loss
    assert last.loss < first.loss


def test_from_the_content_style_loss_falls_while_content_stays_close(engine, content, style) -> None:
    ticks = _losses(engine, content, [style], FAST.with_values(iterations=10))
    assert ticks[-1].style_loss < 0.5 * ticks[0].style_loss
    assert ticks[-1].content_loss < 1.0  # relative error: the photo is still there


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam", "adagrad", "sgd"])
def test_every_optimizer_lowers_the_loss(engine, content, style, optimizer) -> None:
    ticks = _losses(engine, content, [style], FAST.with_values(optimizer=optimizer, iterations=8))
    assert len(ticks) == 8
    assert ticks[-1].loss < ticks[0].loss


def test_adam_hyperparameters_reach_the_optimizer(engine, content, style) -> None:
    base = FAST.with_values(optimizer="adam", iterations=4)
    a = engine.stylize(content, [style], base).image
    b = engine.stylize(content, [style], base.with_values(learning_rate=1.0, beta1=0.5, beta2=0.9, epsilon=1e-3)).image
    assert not np.array_equal(_pixels(a), _pixels(b))


def test_same_seed_same_image_new_seed_new_image(engine, content, style) -> None:
    a = engine.stylize(content, [style], FAST.with_values(seed=11)).image
    b = engine.stylize(content, [style], FAST.with_values(seed=11)).image
    c = engine.stylize(content, [style], FAST.with_values(seed=12)).image
    assert a.tobytes() == b.tobytes()
    assert a.tobytes() != c.tobytes()


def test_no_seed_draws_one_and_reports_it(engine, content, style) -> None:
    result = engine.stylize(content, [style], FAST.with_values(seed=None, iterations=1))
    assert isinstance(result.options.seed, int)
    again = engine.stylize(content, [style], FAST.with_values(seed=result.options.seed, iterations=1))
    assert again.image.tobytes() == result.image.tobytes()


def test_per_style_weights_change_the_result(engine, content, style, style2) -> None:
    only_first = engine.stylize(content, [style, style2], FAST.with_values(style_weights=(1.0, 0.0))).image
    only_second = engine.stylize(content, [style, style2], FAST.with_values(style_weights=(0.0, 1.0))).image
    single = engine.stylize(content, [style], FAST).image
    blended = engine.stylize(content, [style, style2], FAST).image
    assert np.abs(_pixels(only_first) - _pixels(only_second)).mean() > 2.0
    # Weight (1, 0) is exactly the first style alone; the equal blend is neither.
    assert np.abs(_pixels(only_first) - _pixels(single)).max() <= 1.0
    assert np.abs(_pixels(blended) - _pixels(single)).mean() > 0.5


def test_style_weight_and_scale_change_the_result(engine, content, style) -> None:
    base = engine.stylize(content, [style], FAST).image
    for change in ({"style_weight": 0.1}, {"style_scale": 0.5}, {"tv_weight": 50.0}, {"pooling": "avg"}):
        other = engine.stylize(content, [style], FAST.with_values(**change)).image
        assert np.abs(_pixels(base) - _pixels(other)).mean() > 0.5, change


def _chroma_error(result: Image.Image, content: Image.Image) -> float:
    def iq(image: Image.Image) -> torch.Tensor:
        t = torch.from_numpy(_pixels(image)).permute(2, 0, 1).unsqueeze(0).float()
        return rgb_to_yiq(t)[:, 1:]

    return (iq(result) - iq(content.resize(result.size, Image.Resampling.LANCZOS))).abs().mean().item()


def test_colour_preservation_keeps_the_content_chroma(engine, content, style) -> None:
    options = FAST.with_values(iterations=10)
    errors = {
        mode: _chroma_error(engine.stylize(content, [style], options.with_values(preserve_colors=mode)).image, content)
        for mode in ("none", "luminance", "color")
    }
    # Luminance-only transfer puts the content's own chroma back: only rounding and clipping remain.
    assert errors["luminance"] < 1.5
    assert errors["none"] > 4 * errors["luminance"]
    # Colour matching recolours the style, so the result drifts from the photo's colours much less.
    assert errors["color"] < 0.7 * errors["none"]


def test_init_image(engine, content, style) -> None:
    black = Image.new("RGB", (10, 10), "black")
    result = engine.stylize(
        content, [style], FAST.with_values(init="image", iterations=1, tv_weight=0.0), init_image=black
    )
    assert _pixels(result.image).mean() < 60  # one step from black is still dark
    with pytest.raises(OptionsError, match="needs an init image"):
        engine.stylize(content, [style], FAST.with_values(init="image"))


def test_multiscale_runs_coarse_then_full_size_with_previews(engine, content, style) -> None:
    ticks = _losses(
        engine, content, [style], StyleOptions(size=256, iterations=6, seed=1, preview_every=2, progress_every=1)
    )
    scales = sorted({t.scale for t in ticks})
    assert scales == [0, 1] and ticks[0].scales == 2
    assert max(ticks[0].width, ticks[0].height) == 128
    assert max(ticks[-1].width, ticks[-1].height) == 256
    # Most iterations at the coarse scale.
    assert sum(t.scale == 0 for t in ticks) > sum(t.scale == 1 for t in ticks)
    previews = [t for t in ticks if t.preview is not None]
    assert [t.iteration for t in previews] == [2, 4, 6]
    assert previews[0].preview.size == (ticks[0].width, ticks[0].height)
    assert all(t.total == 6 for t in ticks) and ticks[-1].eta == pytest.approx(0.0, abs=1e-6)
    assert ticks[-1].elapsed >= ticks[0].elapsed


def test_time_budget_stops_early_with_a_full_size_image(engine, content, style) -> None:
    options = StyleOptions(size=128, iterations=2, seed=1)
    engine.stylize(content, [style], options)  # first use of these sizes pays one-off kernel set-up
    result = engine.stylize(content, [style], options.with_values(iterations=100_000, max_seconds=1.5))
    assert result.stopped == "deadline" and result.stopped_early
    assert 0 < result.iterations < 100_000
    assert max(result.image.size) == 128
    # A stop is only checked between iterations: at most one iteration (well under a second here) late.
    assert result.elapsed < 1.5 + 2.0


def test_a_time_budget_shares_its_time_between_the_scales(engine, content, style) -> None:
    # Far more iterations than fit: the budget shrinks every scale, and the full size still gets its share.
    ticks = _losses(engine, content, [style], StyleOptions(size=256, iterations=100_000, seed=1, max_seconds=4.0))
    coarse = [t for t in ticks if t.scale == 0]
    full = [t for t in ticks if t.scale == 1]
    assert coarse and full, "the run never reached the full size"
    assert max(full[0].width, full[0].height) == 256
    assert ticks[-1].elapsed < 4.0 + 2.0


def test_a_budget_used_up_before_the_first_step_still_runs_one(engine, content, style) -> None:
    result = engine.stylize(content, [style], FAST.with_values(iterations=50, max_seconds=1e-6))
    assert result.stopped == "deadline"
    assert result.iterations == 1 and np.isfinite(result.loss)


def test_cancel_from_another_thread_stops_within_one_iteration(engine, content, style) -> None:
    cancel = threading.Event()
    seen: list[int] = []

    def progress(p: Progress) -> None:
        seen.append(p.iteration)
        if p.iteration == 3:
            other = threading.Thread(target=cancel.set)
            other.start()
            other.join()

    with pytest.raises(Cancelled):
        engine.stylize(
            content, [style], FAST.with_values(iterations=1000, progress_every=1), progress=progress, cancel=cancel
        )
    assert seen[-1] == 3  # set during iteration 3's report: iteration 4 never runs


def test_already_cancelled_job_does_no_work(engine, content, style) -> None:
    cancel = threading.Event()
    cancel.set()
    seen: list[Progress] = []
    with pytest.raises(Cancelled):
        engine.stylize(content, [style], FAST, progress=seen.append, cancel=cancel)
    assert seen == []


@pytest.mark.parametrize(
    "styles_count,weights,message",
    [
        (0, None, "at least one style image"),
        (2, (1.0,), "2 style image\\(s\\) need as many style weights"),
    ],
)
def test_inconsistent_styles_are_options_errors(engine, content, style, styles_count, weights, message) -> None:
    with pytest.raises(OptionsError, match=message):
        engine.stylize(content, [style] * styles_count, FAST.with_values(style_weights=weights))


def test_out_of_memory_is_a_typed_error(engine, content, style, monkeypatch) -> None:
    model = engine.load()

    def exhausted(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(model, "forward", exhausted)
    with pytest.raises(OutOfMemoryError, match="try a smaller size"):
        engine.stylize(content, [style], FAST)


def test_engine_loads_weights_once(engine) -> None:
    assert engine.load() is engine.load()


def test_unknown_device_is_an_options_error() -> None:
    with pytest.raises(OptionsError, match="unknown device"):
        Engine(device="tpu-please")


def test_extreme_aspect_ratios_and_tiny_styles_work(engine, style) -> None:
    strip = Image.new("RGB", (400, 12), (200, 120, 40))
    tiny_style = style.resize((5, 3))
    result = engine.stylize(strip, [tiny_style], FAST.with_values(size=64, iterations=2))
    assert result.image.size == (64, 2)


def test_thread_cap_holds_on_the_thread_that_loads_and_runs_jobs() -> None:
    # Two CPU workers on one machine each get one thread; the engine's own "use every core"
    # default must not undo the cap when it loads.
    seen: list[int] = []

    def job_thread() -> None:
        Engine(device="cpu", threads=1).load()
        seen.append(torch.get_num_threads())

    thread = threading.Thread(target=job_thread)
    thread.start()
    thread.join()
    assert seen == [1]
    with pytest.raises(OptionsError, match="at least 1"):
        Engine(device="cpu", threads=0)
