"""torchvision.transforms' ToTensor, Resize and Compose, enough for the book's data cells without torchvision.

Images arrive the way torchvision's datasets hand them out: a PIL image (d2l.FashionMNIST items
without a transform) or a uint8 numpy array (H, W) / (H, W, C). One leniency over torchvision:
ToTensor and Resize also take tensors, so they can be applied to linnet's own split items, which are
already float (1, H, W) in [0, 1].
"""
from __future__ import annotations

import numpy as np
import torch

from linnet.checks import check_int
from linnet.data.convert import resize_images
from linnet.errors import ConfigError


def _is_pil(img) -> bool:
    return type(img).__module__.startswith("PIL.")


class ToTensor:
    """PIL image or array (H, W[, C]) -> float32 tensor (C, H, W); uint8 values are divided by 255.

    Tensors pass through: uint8 (C, H, W) or (H, W) is scaled the same way, float is kept as it is.
    """

    def __call__(self, pic) -> torch.Tensor:
        if _is_pil(pic):
            pic = np.asarray(pic)
        if isinstance(pic, np.ndarray):
            if pic.ndim not in (2, 3):
                raise ConfigError(f"ToTensor: the image must be (H, W) or (H, W, C). Got shape {pic.shape}.")
            x = torch.from_numpy(np.array(pic, copy=True))                      # a copy: PIL arrays are read-only
            x = x.unsqueeze(0) if x.ndim == 2 else x.permute(2, 0, 1).contiguous()  # -> (C, H, W)
        elif isinstance(pic, torch.Tensor):
            x = pic.unsqueeze(0) if pic.ndim == 2 else pic
        else:
            raise ConfigError("ToTensor: the image must be a PIL image, a numpy array or a tensor. "
                              f"Got {type(pic).__name__}.")
        return x.to(torch.float32).div_(255.0) if x.dtype == torch.uint8 else x.to(torch.get_default_dtype())

    def __repr__(self) -> str:
        return "ToTensor()"


class Resize:
    """Resize to `size`: (h, w) exactly, or an int for the shorter side (the aspect ratio kept), bilinear
    with antialiasing. PIL images stay PIL images; tensors (..., H, W) stay tensors of their dtype."""

    def __init__(self, size) -> None:
        if isinstance(size, (tuple, list)) and len(size) == 1:
            size = size[0]            # torchvision reads [64] as 64
        if isinstance(size, (tuple, list)):
            if len(size) != 2:
                raise ConfigError(f"The 'size' parameter must be an int or (height, width). Got {size!r}.")
            for s in size:
                check_int("size", s, 1)
            size = tuple(size)
        else:
            check_int("size", size, 1)
        self.size = size

    def output_size(self, h: int, w: int) -> tuple[int, int]:
        if isinstance(self.size, tuple):
            return self.size
        if h <= w:   # torchvision: the shorter side becomes `size`, the longer one keeps the ratio
            return self.size, int(self.size * w / h)
        return int(self.size * h / w), self.size

    def __call__(self, img):
        if _is_pil(img):
            from PIL import Image
            h, w = self.output_size(img.height, img.width)
            return img.resize((w, h), Image.Resampling.BILINEAR)
        if not isinstance(img, torch.Tensor) or img.ndim < 2:
            raise ConfigError("Resize: the image must be a PIL image or a tensor (..., H, W). "
                              f"Got {type(img).__name__}.")
        size = self.output_size(*img.shape[-2:])
        x = img.reshape(-1, 1, *img.shape[-2:]).to(torch.float32)             # (..., H, W) -> (N, 1, H, W)
        x = resize_images(x, size).reshape(*img.shape[:-2], *size)             # -> (..., h, w)
        return x.round_().clamp_(0, 255).to(torch.uint8) if img.dtype == torch.uint8 else x.to(img.dtype)

    def __repr__(self) -> str:
        return f"Resize(size={self.size})"


class Compose:
    """Apply transforms in order."""

    def __init__(self, transforms) -> None:
        self.transforms = list(transforms)
        for t in self.transforms:
            if not callable(t):
                raise ConfigError(f"Compose: every transform must be callable. Got {t!r}.")

    def __call__(self, img):
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self) -> str:
        return "Compose(" + ", ".join(map(repr, self.transforms)) + ")"
