"""Ordinary image files (PNG, JPEG, any size, colour or grey) -> tensors that look like the training data.

Fashion-MNIST and MNIST are light objects on a black background, centred in a square. A photo is
usually the opposite, so an image whose border is brighter than mid-grey is inverted. It is then
made grey, padded to a square and resized to the model's input size.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from linnet.errors import LinnetError

MAX_PIXELS = 40_000_000  # refuse larger images before decoding them (decompression bombs, memory)


class ImageError(LinnetError):
    """One image file could not be used; the message names it."""


def read_image(path: str | os.PathLike, channels: int = 1) -> np.ndarray:
    """One image file as uint8 (H, W) grey or (H, W, 3) RGB, as a viewer shows it; errors name the file.

    Shared by `linnet predict` (below) and image folders (linnet.data.folders): one place decides
    how odd files (transparency, 16-bit grey, EXIF rotation, huge sizes) become pixels.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError
    path = Path(path)
    if path.is_dir():
        raise ImageError(f"{path}: is a directory, expected an image file")
    try:
        if path.stat().st_size == 0:
            raise ImageError(f"{path}: is empty")
        with Image.open(path) as im:
            if im.width * im.height > MAX_PIXELS:
                raise ImageError(f"{path}: {im.width}x{im.height} pixels is larger than the "
                                 f"{MAX_PIXELS // 1_000_000} megapixels linnet accepts")
            im = ImageOps.exif_transpose(im)  # a phone photo's orientation tag, applied
            if im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info:
                # transparent background: flatten onto white, as a viewer shows it (not black)
                rgba = im.convert("RGBA")
                im = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                im.alpha_composite(rgba)
            if im.mode in ("I", "I;16", "I;16B", "I;16L"):
                # 16-bit grey (PNG): Pillow's convert("L") clips at 255 instead of scaling, which
                # would turn every pixel above 255/65535 white; scale the full range instead.
                grey = np.clip(np.asarray(im, dtype=np.float64) / 257.0, 0, 255).round().astype(np.uint8)
                return grey if channels == 1 else np.repeat(grey[:, :, None], 3, axis=2)
            return np.asarray(im.convert("L" if channels == 1 else "RGB"), dtype=np.uint8)
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image file linnet can read (PNG, JPEG, ...)") from None
    except (OSError, Image.DecompressionBombError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{path}: cannot be read as an image ({exc})") from None


def load_image(path: str | os.PathLike, size: tuple[int, int]) -> torch.Tensor:
    """(1, H, W) float32 in [0, 1], light object on dark background, like the training images."""
    grey = read_image(path, 1).astype(np.float32) / 255.0
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    if border.mean() > 0.5:
        grey = 1.0 - grey
    h, w = grey.shape
    side = max(h, w)
    square = np.zeros((side, side), dtype=np.float32)
    square[(side - h) // 2:(side - h) // 2 + h, (side - w) // 2:(side - w) // 2 + w] = grey
    x = torch.from_numpy(square)[None, None]  # (1, 1, side, side)
    x = torch.nn.functional.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)
    return x[0].clamp_(0.0, 1.0)
