"""The resident Dataset of splits that every source ends as (IDX files, digits, image folders,
tables, arrays, synthetic data): what the loader, the models and the run directory take.

Importing it is cheap (torch and numpy are imported when a split is made), like linnet.data.sources.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from linnet.errors import DataError

if TYPE_CHECKING:   # annotations only: torch and numpy are imported when a split is made
    import numpy as np
    import torch


@dataclass(frozen=True)
class Split:
    """One split, resident: images (N, H, W) or (N, C, H, W) uint8 and labels (N,) int64.

    Tables use the same holder: features (N, d) float32, labels (N,) int64 or targets (N, 1) float32.

    A split is also a map-style dataset, like torchvision's FashionMNIST after ToTensor, so
    `torch.utils.data.DataLoader(split, batch_size, shuffle=True)` batches it: `split[i]` is
    (image float32 (C, H, W) in [0, 1], label int), or (features, target) tensors as they are.
    (linnet's own Loader is faster: it gathers whole batches instead of collating items.)
    """
    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int | torch.Tensor]:
        if self.images.dtype.is_floating_point:
            return self.images[i], self.labels[i]
        from linnet.data.convert import to_float  # deferred: this module stays importable without torch
        return to_float(self.images[i].unsqueeze(0))[0], int(self.labels[i])     # (H, W) or (C, H, W) -> (C, H, W)


@dataclass(frozen=True)
class Dataset:
    name: str
    train: Split
    test: Split
    classes: tuple[str, ...]
    features: tuple[str, ...] = ()    # a table's feature column names; () for images
    stats: dict | None = field(default=None, compare=False)  # {"mean", "std"} a table was standardised with
    notes: tuple[str, ...] = ()       # what loading did that the user should know (resized images...)

    @property
    def is_images(self) -> bool:
        """Images (uint8, (N, H, W) or (N, C, H, W)) rather than rows of features."""
        images = self.train.images
        return str(images.dtype) == "torch.uint8" and images.dim() >= 3  # str: torch is not imported here

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(channels, height, width) of one image as the loader yields it."""
        shape = tuple(self.train.images.shape[1:])
        return shape if len(shape) == 3 else (1, *shape)

    def text_labels(self, labels) -> list[str]:
        """The chapter's get_fashion_mnist_labels: numeric labels -> class names."""
        return [self.classes[int(i)] for i in labels]


def make_split(images: np.ndarray, labels: np.ndarray, num_classes: int, where: str,
               channels: bool = False) -> Split:
    """Validate one split (shapes agree, labels in range) and make it resident as tensors.
    channels=True also accepts (N, C, H, W) images (colour image folders, .npz arrays)."""
    import numpy as np
    import torch
    if channels and images.ndim == 4:
        pass
    elif images.ndim != 3:
        raise DataError(f"{where}: images must have 3 dimensions (N, H, W){' or 4 (N, C, H, W)' if channels else ''}, "
                        f"got shape {images.shape}")
    if images.dtype != np.uint8:
        raise DataError(f"{where}: images must be unsigned bytes (IDX type 0x08), got {images.dtype}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"{where}: labels must be integers, got {labels.dtype}")
    if labels.ndim != 1:
        raise DataError(f"{where}: labels must have 1 dimension (N,), got shape {labels.shape}")
    if len(images) != len(labels):
        raise DataError(f"{where}: {len(images)} images but {len(labels)} labels; the counts must agree")
    if len(labels) == 0:
        raise DataError(f"{where}: the split is empty")
    lo, hi = int(labels.min()), int(labels.max())
    if lo < 0 or hi >= num_classes:
        bad = lo if lo < 0 else hi
        raise DataError(f"{where}: label {bad} is out of range for {num_classes} classes (0..{num_classes - 1})")
    return Split(torch.from_numpy(np.ascontiguousarray(images)),
                 torch.from_numpy(labels.astype(np.int64)))
