"""The benchmark's referee: a fixed VGG-19 (the Caffe weights) scoring any output image.

content error: ||F(out) - F(content)||² / ||F(content)||² at relu4_2
style error:   mean over relu1_1…relu5_1 of ||G(out) - G(style)||² / ||G(style)||²
where G averages over positions. Every image is scored at the output's size, the content resized to
it and the style resized to the same longest side.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from PIL import Image

from stylecore.images import resize_to
from stylecore.vgg import VGG19Features
from stylecore.weights import load_weights

STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
CONTENT_LAYER = "relu4_2"


@dataclass(frozen=True)
class Score:
    content_error: float
    style_error: float


class Referee:
    def __init__(self) -> None:
        self.net = VGG19Features(load_weights("caffe"))

    def score(self, output: Image.Image, content: Image.Image, style: Image.Image) -> Score:
        size = output.size
        with torch.no_grad():
            out = self.net(_tensor(output), [CONTENT_LAYER, *STYLE_LAYERS])
            ref_c = self.net(_tensor(content.resize(size, Image.Resampling.LANCZOS)), [CONTENT_LAYER])
            ref_s = self.net(_tensor(resize_to(style, max(size))), STYLE_LAYERS)
        c = ((out[CONTENT_LAYER] - ref_c[CONTENT_LAYER]).pow(2).sum() / ref_c[CONTENT_LAYER].pow(2).sum()).item()
        errors = []
        for layer in STYLE_LAYERS:
            g_out, g_ref = _gram(out[layer]), _gram(ref_s[layer])
            errors.append(((g_out - g_ref).pow(2).sum() / g_ref.pow(2).sum()).item())
        return Score(content_error=c, style_error=sum(errors) / len(errors))


def _gram(f: torch.Tensor) -> torch.Tensor:
    _n, c, h, w = f.shape
    flat = f.reshape(c, h * w).double()
    return flat @ flat.T / (h * w)


def _tensor(image: Image.Image) -> torch.Tensor:
    data = torch.frombuffer(bytearray(image.convert("RGB").tobytes()), dtype=torch.uint8)
    return data.view(image.height, image.width, 3).permute(2, 0, 1).unsqueeze(0).float().contiguous()
