"""Ordinary image files (PNG, JPEG, any size, colour or grey) -> tensors that look like the training data.

Fashion-MNIST and MNIST are light objects on a black background, centred in a square. A photo is
usually the opposite, so an image whose border is brighter than mid-grey is inverted. It is then
made grey, scaled so that its longer side fits the model's input, and centred on black (as if padded
to a square first, but without ever making that square: a 1x40,000,000 image costs its 40 MB, not a
40M x 40M square). A JPEG is decoded straight at a reduced scale when that is all the model needs.
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


def read_image(path: str | os.PathLike, channels: int = 1, fit: tuple[int, int] | None = None) -> np.ndarray:
    """One image file as uint8 (H, W) grey or (H, W, 3) RGB, as a viewer shows it; errors name the file.

    Shared by `linnet predict` (below) and image folders (linnet.data.folders): one place decides
    how odd files (transparency, 16-bit grey, EXIF rotation, huge sizes) become pixels. The size the
    header declares is checked before anything is decoded. `fit` (H, W): the caller will scale the
    image into that box, so a JPEG may be decoded at 1/2, 1/4 or 1/8 scale (never below the box).
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
            if fit is not None and im.format == "JPEG":
                im.draft("L" if channels == 1 else "RGB", _draft_size(im, fit))
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


def _scaled(h: int, w: int, size: tuple[int, int]) -> tuple[int, int]:
    """(h, w) scaled as padding to a max(h, w) square and resizing that to `size` would scale it."""
    side = max(h, w)
    return max(1, round(h * size[0] / side)), max(1, round(w * size[1] / side))


def _draft_size(im, fit: tuple[int, int]) -> tuple[int, int]:
    """The (width, height) a JPEG's decoder must keep at least, in the file's own orientation."""
    rotated = im.getexif().get(0x0112) in (5, 6, 7, 8)          # EXIF orientations that swap the sides
    h, w = (im.width, im.height) if rotated else (im.height, im.width)
    nh, nw = _scaled(h, w, fit)
    return (nh, nw) if rotated else (nw, nh)


def load_image(path: str | os.PathLike, size: tuple[int, int]) -> torch.Tensor:
    """(1, H, W) float32 in [0, 1], light object on dark background, like the training images."""
    from PIL import Image
    grey = read_image(path, 1, fit=size)                                      # (h, w) uint8
    h, w = grey.shape
    border = int(grey[0].sum()) + int(grey[-1].sum()) + int(grey[:, 0].sum()) + int(grey[:, -1].sum())
    if border > 127.5 * (2 * h + 2 * w):                        # a border brighter than mid-grey
        grey = 255 - grey
    nh, nw = _scaled(h, w, size)
    # Pillow's bilinear resize is antialiased (its filter widens when it shrinks), on uint8, in place of
    # a float square of the input's longer side
    small = np.asarray(Image.fromarray(grey).resize((nw, nh), Image.BILINEAR, reducing_gap=3.0))  # (nh, nw)
    out = torch.zeros(1, *size)                                               # (1, H, W) black
    top, left = (size[0] - nh) // 2, (size[1] - nw) // 2
    out[0, top:top + nh, left:left + nw] = torch.from_numpy(small.astype(np.float32) / 255.0)
    return out
