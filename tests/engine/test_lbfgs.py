"""Our L-BFGS takes the same steps as torch's reference implementation."""

from __future__ import annotations

import pytest
import torch

from stylecore.lbfgs import LBFGS


def _rosenbrock(x: torch.Tensor) -> torch.Tensor:
    return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()


def _run(optimizer_factory, steps: int) -> list[torch.Tensor]:
    torch.manual_seed(0)
    x = (torch.rand(12, dtype=torch.float64) * 0.5).requires_grad_(True)
    optimizer = optimizer_factory(x)

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = _rosenbrock(x)
        loss.backward()
        return loss

    iterates = []
    for _ in range(steps):
        optimizer.step(closure)
        iterates.append(x.detach().clone())
    return iterates


@pytest.mark.parametrize("history", [3, 20])
def test_same_iterates_as_torch_lbfgs(history: int) -> None:
    # 40 steps with history 3 also exercises dropping the oldest pairs from the ring.
    ours = _run(lambda x: LBFGS([x], lr=0.5, history_size=history), 40)
    reference = _run(
        lambda x: torch.optim.LBFGS(
            [x], lr=0.5, max_iter=1, history_size=history, tolerance_grad=0.0, tolerance_change=0.0
        ),
        40,
    )
    for step, (a, b) in enumerate(zip(ours, reference, strict=True)):
        torch.testing.assert_close(a, b, rtol=1e-7, atol=1e-9, msg=f"step {step}")
    assert _rosenbrock(ours[-1]) < _rosenbrock(ours[0])


def test_refuses_more_than_one_tensor() -> None:
    with pytest.raises(ValueError, match="exactly one tensor"):
        LBFGS([torch.zeros(2, requires_grad=True), torch.zeros(2, requires_grad=True)])
