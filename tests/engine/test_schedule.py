"""The coarse-to-fine plan."""

from __future__ import annotations

from stylecore.schedule import Scale, fit_to_time, plan_scales


def test_multiscale_doubles_up_to_the_size_with_most_iterations_small() -> None:
    plan = plan_scales(512, 300)
    assert [s.longest_side for s in plan] == [128, 256, 512]
    assert sum(s.iterations for s in plan) == 300
    assert plan[0].iterations > plan[-1].iterations


def test_single_scale_when_off_or_small() -> None:
    assert plan_scales(512, 100, multiscale=False) == [Scale(512, 100)]
    assert plan_scales(200, 100) == [Scale(200, 100)]


def test_few_iterations_drop_empty_scales_but_keep_the_total() -> None:
    plan = plan_scales(1024, 2)
    assert sum(s.iterations for s in plan) == 2
    assert all(s.iterations > 0 for s in plan)


def test_fit_to_time_keeps_proportions_and_reaches_every_scale() -> None:
    plan = [Scale(128, 200), Scale(256, 100), Scale(512, 100)]
    pixels = [s.longest_side**2 for s in plan]
    fitted = fit_to_time(plan, seconds_left=1.0, seconds_per_pixel_iteration=1e-6, pixels=pixels)
    assert [s.longest_side for s in fitted] == [128, 256, 512]
    assert all(s.iterations >= 1 for s in fitted)
    cost = sum(s.longest_side**2 * s.iterations * 1e-6 for s in fitted)
    assert cost <= 1.0 + 512**2 * 1e-6 * 3  # within one iteration per scale of the budget
    assert fit_to_time(plan, seconds_left=1e9, seconds_per_pixel_iteration=1e-6, pixels=pixels) == plan


def test_fit_to_time_gives_the_time_rounding_down_left_back() -> None:
    # Few iterations per scale: rounding each down alone would leave a third of the budget unused.
    plan = [Scale(128, 4), Scale(256, 2), Scale(512, 2)]
    pixels = [s.longest_side**2 for s in plan]
    rate = 1e-6
    budget = 0.6 * sum(p * s.iterations * rate for p, s in zip(pixels, plan, strict=True))
    fitted = fit_to_time(plan, seconds_left=budget, seconds_per_pixel_iteration=rate, pixels=pixels)
    cost = sum(p * s.iterations * rate for p, s in zip(pixels, fitted, strict=True))
    assert cost <= budget
    # No scale below its plan could take one more iteration in the time left over.
    spare = budget - cost
    assert all(s.iterations == p.iterations or px * rate > spare for s, p, px in zip(fitted, plan, pixels, strict=True))
    assert all(1 <= s.iterations <= p.iterations for s, p in zip(fitted, plan, strict=True))


def test_fit_to_time_never_adds_to_a_scale_with_nothing_left() -> None:
    # Refitting at the end of a scale (its planned iterations all run) must not extend it.
    plan = [Scale(256, 0), Scale(512, 10)]
    fitted = fit_to_time(plan, seconds_left=1.0, seconds_per_pixel_iteration=1e-6, pixels=[256**2, 512**2])
    assert fitted[0].iterations == 0 and 1 <= fitted[1].iterations < 10
