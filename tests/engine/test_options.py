"""Option validation names the bad option."""

from __future__ import annotations

import math

import pytest

from stylecore import OptionsError, StyleOptions
from stylecore.options import DEFAULT_LEARNING_RATES


def test_defaults_validate_and_resolve_the_learning_rate() -> None:
    for name, lr in DEFAULT_LEARNING_RATES.items():
        assert StyleOptions(optimizer=name).validated().learning_rate == lr
    assert StyleOptions(learning_rate=0.5).validated().learning_rate == 0.5


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"size": 8}, "size must be between 16 and 4096"),
        ({"iterations": 0}, "iterations must be between"),
        ({"optimizer": "rmsprop"}, "optimizer must be one of"),
        ({"learning_rate": -1.0}, "learning rate must be a positive"),
        ({"learning_rate": math.nan}, "learning rate must be a positive"),
        ({"beta1": 1.0}, "beta1 must be in"),
        ({"beta2": -0.1}, "beta2 must be in"),
        ({"epsilon": 0.0}, "epsilon must be positive"),
        ({"style_weight": -1.0}, "style weight must be zero or positive"),
        ({"content_weight": 0.0, "style_weight": 0.0}, "cannot both be zero"),
        ({"style_scale": 10.0}, "style scale must be between"),
        ({"content_layer": "relu9_1"}, "unknown content layer"),
        ({"style_layers": ()}, "at least one style layer"),
        ({"style_layer_weights": (1.0,)}, "5 style layers need as many layer weights"),
        ({"style_weights": (0.0, 0.0)}, "at least one style weight must be positive"),
        ({"preserve_colors": "sepia"}, "preserve colors must be one of"),
        ({"init": "random"}, "init must be one of"),
        ({"pooling": "min"}, "pooling must be max or avg"),
        ({"seed": -1}, "seed must be between"),
        ({"max_seconds": 0.0}, "max seconds must be positive"),
        ({"progress_every": 0}, "progress every must be at least 1"),
        ({"preview_every": 0}, "preview every must be at least 1"),
        ({"tile": 8}, "tile must be auto, off or a size between 32"),
        ({"tile": "sometimes"}, "tile must be auto, off"),
        ({"tile": True}, "tile must be auto, off"),
        ({"upscale_from": 256}, "needs init 'image'"),
        ({"upscale_from": 512, "init": "image"}, "upscale from must be between 16 and the size"),
        ({"timelapse_frames": 1}, "timelapse frames must be 0 or between 2"),
    ],
)
def test_bad_values_name_the_option(changes, message) -> None:
    with pytest.raises(OptionsError, match=message):
        StyleOptions(**changes).validated()


def test_json_round_trip_and_bad_json() -> None:
    options = StyleOptions(seed=9, style_weights=(1.0, 2.0), tile=256, style_layers=("relu1_1", "relu2_1"))
    assert StyleOptions.from_json(options.to_json()) == options.validated()
    with pytest.raises(OptionsError, match="not valid JSON"):
        StyleOptions.from_json("{")
    with pytest.raises(OptionsError, match="unknown option"):
        StyleOptions.from_json('{"colour": "red"}')


def test_with_values_names_unknown_keys() -> None:
    with pytest.raises(OptionsError, match="unknown option\\(s\\): colour"):
        StyleOptions().with_values(colour="red")
