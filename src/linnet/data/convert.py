"""uint8 images to the float tensors the models take: [0, 1], channels first, optionally resized.

Its own module so that the split (linnet.data.dataset) and the loader (linnet.data.loader) both use
it without importing each other.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def resize_images(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """float (B, C, H, W) -> (B, C, h, w): bilinear with antialiasing, as torchvision's Resize."""
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)


def to_float(images: torch.Tensor, resize: tuple[int, int] | None = None) -> torch.Tensor:
    """uint8 (B, H, W) or (B, C, H, W) -> float32 (B, C, H', W') in [0, 1], bilinearly resized when asked."""
    if images.dim() == 3:
        images = images.unsqueeze(1)                        # (B, H, W) -> (B, 1, H, W), a view
    x = images.to(torch.float32).div_(255.0)                # (B, C, H, W)
    if resize is not None and tuple(x.shape[-2:]) != tuple(resize):
        x = resize_images(x, resize)
    return x
