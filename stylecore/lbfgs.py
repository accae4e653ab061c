"""L-BFGS for images: one function evaluation per step, no line search, no Python loop over history.

The same iterates as ``torch.optim.LBFGS(max_iter=1)`` (tested), but the two-loop recursion is
written as two small triangular solves over inner products that are kept up to date as pairs arrive.
On a GPU that replaces ~4 tiny kernel launches per history pair and step with about twenty in all.
History lives in fixed slots (a ring), so dropping the oldest pair copies nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable


class LBFGS(torch.optim.Optimizer):
    def __init__(
        self,
        params: Iterable[torch.Tensor],
        lr: float = 1.0,
        history_size: int = 20,
        initial_scale: float | None = None,
    ) -> None:
        """`initial_scale`: the first step is -lr * initial_scale * gradient (a scale learned on a
        similar problem: `step_scale` of an earlier run); None takes torch's cautious first step."""
        super().__init__(params, {"lr": lr})
        self.initial_scale = initial_scale
        if len(self.param_groups) != 1 or len(self.param_groups[0]["params"]) != 1:
            raise ValueError("this L-BFGS optimises exactly one tensor")
        self.history_size = history_size
        self._order: list[int] = []  # slots, oldest pair first
        self._s: torch.Tensor | None = None  # (m, n) steps, one per slot
        self._y: torch.Tensor | None = None  # (m, n) gradient changes
        self._sy: torch.Tensor | None = None  # (m, m) s_i · y_j
        self._yy: torch.Tensor | None = None  # (m, m) y_i · y_j
        self._previous: tuple[torch.Tensor, torch.Tensor] | None = None  # (flat gradient, last step)

    @torch.no_grad()
    def step(self, closure: Callable[[], float]) -> float:  # type: ignore[override]  # closure required: one evaluation a step
        param = self.param_groups[0]["params"][0]
        lr = self.param_groups[0]["lr"]
        with torch.enable_grad():
            loss = closure()
        grad = param.grad.reshape(-1).clone()
        if self._previous is None and self.initial_scale is not None:
            step = grad * (-lr * self.initial_scale)
        elif self._previous is None:
            # No curvature known yet: a gradient step of at most `lr` in L1 norm (as torch's L-BFGS).
            step = grad * (-lr * min(1.0, 1.0 / grad.abs().sum().item()))
        else:
            previous_grad, previous_step = self._previous
            self._remember(previous_step, grad - previous_grad)
            step = self._inverse_hessian_times(grad).mul_(-lr)
        param.add_(step.view_as(param))
        self._previous = (grad, step)
        return loss

    @property
    def step_scale(self) -> float | None:
        """The newest curvature pair's s·y / y·y: the inverse-Hessian scale the next step starts from."""
        if not self._order:
            return None
        assert self._sy is not None and self._yy is not None
        newest = self._order[-1]
        return float((self._sy[newest, newest] / self._yy[newest, newest]).item())

    def _remember(self, s: torch.Tensor, y: torch.Tensor) -> None:
        """Store the pair (s, y) unless its curvature is not positive (then the history stays)."""
        if torch.dot(y, s).item() <= 1e-10:
            return
        if self._s is None:
            m, n = self.history_size, s.numel()
            self._s, self._y = s.new_zeros(m, n), s.new_zeros(m, n)
            self._sy, self._yy = s.new_zeros(m, m), s.new_zeros(m, m)
        assert self._y is not None and self._sy is not None and self._yy is not None
        slot = self._order.pop(0) if len(self._order) == self.history_size else len(self._order)
        self._s[slot] = s
        self._y[slot] = y
        self._order.append(slot)
        # Unused slots hold zeros, so full-buffer products are exact for the slots in use.
        self._sy[:, slot] = self._s @ y
        self._sy[slot, :] = self._y @ s
        yy = self._y @ y
        self._yy[:, slot] = yy
        self._yy[slot, :] = yy

    def _inverse_hessian_times(self, grad: torch.Tensor) -> torch.Tensor:
        if not self._order:
            return grad.clone()
        assert self._s is not None and self._y is not None and self._sy is not None and self._yy is not None
        k = len(self._order)
        idx = torch.tensor(self._order, device=grad.device)
        sy = self._sy[idx][:, idx]
        yy = self._yy[idx][:, idx]
        s_g = (self._s @ grad)[idx]
        y_g = (self._y @ grad)[idx]
        rho = 1.0 / torch.diagonal(sy)
        gamma = sy[-1, -1] / yy[-1, -1]
        eye = torch.eye(k, dtype=grad.dtype, device=grad.device)
        # First loop (newest to oldest): alpha_i = rho_i (s_i·g - sum_{j>i} alpha_j s_i·y_j).
        upper = torch.triu(sy, diagonal=1) * rho[:, None]
        alpha = torch.linalg.solve_triangular(eye + upper, (rho * s_g)[:, None], upper=True)[:, 0]
        # r0 = gamma (g - sum_j alpha_j y_j). Second loop (oldest to newest):
        # beta_i = rho_i (y_i·r0 + sum_{j<i} (alpha_j - beta_j) y_i·s_j).
        y_r0 = gamma * (y_g - yy @ alpha)
        lower = torch.tril(sy.T, diagonal=-1) * rho[:, None]
        beta = torch.linalg.solve_triangular(eye + lower, (rho * y_r0 + lower @ alpha)[:, None], upper=False)[:, 0]
        coef_y = grad.new_zeros(self.history_size).index_copy_(0, idx, alpha)
        coef_s = grad.new_zeros(self.history_size).index_copy_(0, idx, alpha - beta)
        return (grad - self._y.T @ coef_y).mul_(gamma).add_(self._s.T @ coef_s)
