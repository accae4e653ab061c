"""Build the optimiser a job asked for. Each is stepped once per iteration with a closure."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from .lbfgs import LBFGS

if TYPE_CHECKING:
    from .options import StyleOptions


def make_optimizer(
    image: torch.Tensor, options: StyleOptions, initial_scale: float | None = None
) -> torch.optim.Optimizer:
    """`initial_scale`: L-BFGS's first step size per unit of gradient, learned on a similar problem."""
    lr = options.learning_rate
    assert lr is not None, "options must be validated first"
    if options.optimizer == "lbfgs":
        # One function evaluation per step, so cancel, deadline and progress are checked every
        # iteration; the curvature history persists across steps.
        return LBFGS([image], lr=lr, history_size=20, initial_scale=initial_scale)
    if options.optimizer == "adam":
        return torch.optim.Adam([image], lr=lr, betas=(options.beta1, options.beta2), eps=options.epsilon)
    if options.optimizer == "adagrad":
        return torch.optim.Adagrad([image], lr=lr, eps=options.epsilon)
    return torch.optim.SGD([image], lr=lr, momentum=0.9, nesterov=True)
