"""Gram matrices and loss terms on tensors whose values are known by hand."""

from __future__ import annotations

import pytest
import torch

from stylecore.losses import ContentLoss, StyleLoss, TVLoss, gram


def test_gram_is_channel_coactivation_averaged_over_positions() -> None:
    # Two channels over four positions.
    f = torch.tensor([[1.0, 2.0, 0.0, 1.0], [0.0, 1.0, 3.0, 1.0]]).view(1, 2, 2, 2)
    g = gram(f)
    expected = torch.tensor([[1 + 4 + 0 + 1, 0 + 2 + 0 + 1], [0 + 2 + 0 + 1, 0 + 1 + 9 + 1]]) / 4.0
    torch.testing.assert_close(g[0], expected)


def test_gram_does_not_depend_on_image_size() -> None:
    tile = torch.rand(1, 3, 4, 4)
    torch.testing.assert_close(gram(tile), gram(tile.repeat(1, 1, 3, 5)))


def test_content_loss_is_relative_squared_error() -> None:
    target = torch.tensor([1.0, 2.0, 2.0]).view(1, 3, 1, 1)
    features = torch.tensor([1.0, 0.0, 3.0]).view(1, 3, 1, 1)
    # (0 + 4 + 1) / (1 + 4 + 4)
    assert ContentLoss(target)(features).item() == pytest.approx(5 / 9)
    assert ContentLoss(target)(target).item() == 0.0


def test_style_loss_is_zero_for_the_same_texture_and_relative_otherwise() -> None:
    f = torch.rand(1, 4, 6, 6)
    target = gram(f)
    assert StyleLoss(target)(f).item() == pytest.approx(0.0, abs=1e-7)
    # Doubling activations quadruples the Gram: error (4G - G)^2 / G^2 = 9.
    assert StyleLoss(target)(2 * f).item() == pytest.approx(9.0, rel=1e-5)


def test_tv_loss_values() -> None:
    assert TVLoss()(torch.full((1, 3, 5, 5), 100.0)).item() == 0.0
    ramp = torch.arange(4.0).repeat(1, 3, 4, 1) * 255  # steps of 255 along x, constant along y
    assert TVLoss()(ramp).item() == pytest.approx(1.0)
