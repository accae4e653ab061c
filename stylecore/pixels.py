"""Images as pixel tensors: (1, 3, H, W) float32 in 0-255, the engine's working form."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from PIL import Image


def to_tensor(image: Image.Image) -> torch.Tensor:
    data = torch.frombuffer(bytearray(image.convert("RGB").tobytes()), dtype=torch.uint8)
    return data.view(image.height, image.width, 3).permute(2, 0, 1).unsqueeze(0).float().contiguous()


def to_pil(pixels: torch.Tensor) -> Image.Image:
    data = pixels[0].clamp(0, 255).round().to(torch.uint8).permute(1, 2, 0).contiguous()
    return Image.frombytes("RGB", (data.shape[1], data.shape[0]), data.numpy().tobytes())


def resize(pixels: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    if tuple(pixels.shape[-2:]) == tuple(size):
        return pixels
    return F.interpolate(pixels, size=size, mode="bicubic", align_corners=False, antialias=True).clamp(0, 255)
