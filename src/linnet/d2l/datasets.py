"""torchvision.datasets.FashionMNIST's signature over linnet's IDX reader and verified download.

`root` holds the four IDX files (.gz or uncompressed) either directly or in torchvision's own
layout, `root/FashionMNIST/raw/` (so a directory torchvision already filled works as it is);
download=True fetches the missing ones into that layout, MD5-verified, mirror after mirror.
Items are what torchvision gives: (PIL image, mode 'L', int label) before the transform.
"""
from __future__ import annotations

import os
from pathlib import Path

from linnet.data.dataset import Split
from linnet.data.sources import FASHION_MNIST_CLASSES, load_idx_dataset, missing_files
from linnet.errors import ConfigError, DataError


def find_root_files(root: Path, name: str, folder: str) -> Path | None:
    """The directory under `root` that holds all four files: torchvision's `root/<folder>/raw`, or root."""
    for directory in (root / folder / "raw", root):
        if directory.is_dir() and not missing_files(name, directory):
            return directory
    return None


class FashionMNIST:
    """FashionMNIST(root, train=True, transform=None, target_transform=None, download=False), as torchvision's.

    A map-style dataset over one linnet Split: `ds[i]` is (transform(PIL image), target_transform(label)).
    """
    name, folder, classes = "fashion-mnist", "FashionMNIST", list(FASHION_MNIST_CLASSES)

    def __init__(self, root=None, train: bool = True, transform=None, target_transform=None,
                 download: bool = False, **others) -> None:
        if others:   # d2l 1.0's FashionMNIST(batch_size=..., resize=...) is a data module, not this dataset
            raise ConfigError(
                f"FashionMNIST got unexpected arguments {', '.join(sorted(others))}: linnet's d2l.FashionMNIST is "
                "torchvision's dataset (root, train, transform, target_transform, download). For the book's "
                "batches use d2l.load_data_fashion_mnist(batch_size, resize=None).")
        if not isinstance(root, (str, os.PathLike)):
            raise ConfigError(f"The 'root' parameter must be a directory path. Got {root!r}.")
        for param, value in (("transform", transform), ("target_transform", target_transform)):
            if value is not None and not callable(value):
                raise ConfigError(f"The '{param}' parameter must be callable or None. Got {value!r}.")
        self.root, self.train = Path(root).expanduser(), bool(train)
        self.transform, self.target_transform = transform, target_transform
        directory = find_root_files(self.root, self.name, self.folder)
        if directory is None:
            raw = self.root / self.folder / "raw"
            if not download:
                # name what is missing where the most files are (raw/ on a tie: torchvision's place)
                closest = min((raw, self.root), key=lambda d: len(missing_files(self.name, d)))
                raise DataError(f"{self.root}: {self.folder} not found; {closest} lacks "
                                f"{', '.join(missing_files(self.name, closest))} (looked in {raw} and {self.root}). "
                                "Pass download=True to fetch them (MD5-verified).")
            directory = raw
        data = load_idx_dataset(self.name, directory, download=download)
        self.split: Split = data.train if self.train else data.test

    @property
    def data(self):
        """The images, uint8 (N, H, W), as torchvision's `.data`."""
        return self.split.images

    @property
    def targets(self):
        """The labels, int64 (N,), as torchvision's `.targets`."""
        return self.split.labels

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, index: int):
        from PIL import Image
        img = Image.fromarray(self.split.images[index].numpy())      # uint8 (H, W) -> PIL mode 'L'
        target = int(self.split.labels[index])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __repr__(self) -> str:
        return (f"Dataset {type(self).__name__}\n    Number of datapoints: {len(self)}\n    Root location: "
                f"{self.root}\n    Split: {'Train' if self.train else 'Test'}\n    Transform: {self.transform}")
