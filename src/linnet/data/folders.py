"""Image folders in torchvision's ImageFolder layout -> uint8 splits, decoded once and cached.

    PATH/<class>/*.png|jpg|...                       one pool, split stratified by class (seeded)
    PATH/train/<class>/... + PATH/test/<class>/...   the user's own split

Images become grey (channels=1, (N, H, W)) or RGB (channels=3, (N, 3, H, W)) uint8, all of one size:
`resize` (H, W), else the most common size (a note says how many were resized). Decoding is the
slow part (PIL, a few thousand images a second), so the decoded arrays are cached under
`<data cache>/folders/`; the cache records the folder's listing (paths, sizes, mtimes) and is
rebuilt when any of them changes. Every bad file is one DataError/ImageError naming it.
"""
from __future__ import annotations

import hashlib
import io
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from linnet.atomic import atomic_write_bytes
from linnet.checks import check_size
from linnet.data.dataset import Dataset, make_split
from linnet.data.store import default_data_dir
from linnet.data.splits import split_indices
from linnet.errors import ConfigError, DataError

# torchvision's IMG_EXTENSIONS, less the rare ones Pillow may lack
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
CACHE_FORMAT = "linnet-folder-cache/1"


def _fit_size(a: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W[, 3]) uint8 bilinearly resized to size (H', W'); the same for training and predict."""
    from PIL import Image
    return np.asarray(Image.fromarray(a).resize((size[1], size[0]), Image.BILINEAR))


def _images_in(class_dir: str) -> list[tuple[str, int, int]]:
    """(path, size, mtime_ns) of the images under one class folder (recursively, sorted); any other
    visible file is an error. os.scandir, not pathlib: 10 000 files list in a fraction of the time."""
    found, pending = [], [class_dir]
    while pending:
        with os.scandir(pending.pop()) as it:
            entries = sorted(it, key=lambda e: e.name)
        for entry in entries:
            if entry.name.startswith("."):  # .DS_Store and friends
                continue
            if entry.is_dir():
                pending.append(entry.path)
                continue
            if os.path.splitext(entry.name)[1].lower() not in IMAGE_EXTENSIONS:
                raise DataError(f"{entry.path}: not an image (expected {', '.join(IMAGE_EXTENSIONS)}); "
                                "move it out of the class folder")
            st = entry.stat()
            found.append((entry.path, st.st_size, st.st_mtime_ns))
    if not found:
        raise DataError(f"{class_dir}: the class folder holds no images (expected {', '.join(IMAGE_EXTENSIONS)})")
    found.sort()
    return found


def _class_dirs(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def scan(root: Path) -> tuple[list[tuple[int, int, str, int, int]], tuple[str, ...], bool]:
    """([(part, class index, file, size, mtime_ns)], class names, has a test folder); part 0 = train, 1 = test."""
    if not root.is_dir():
        raise DataError(f"{root}: no such folder")
    parts = [(0, root / "train"), (1, root / "test")] if (root / "train").is_dir() else [(0, root)]
    if (root / "train").is_dir() and not (root / "test").is_dir():
        parts = [(0, root / "train")]
    classes = tuple(d.name for d in _class_dirs(parts[0][1]))
    if not classes:
        raise DataError(f"{parts[0][1]}: no class folders; expected {root}/<class>/*.png "
                        f"or {root}/train/<class>/... and {root}/test/<class>/...")
    if len(classes) == 1:
        raise DataError(f"{parts[0][1]}: only one class folder ({classes[0]!r}); a classifier needs at least two")
    entries = []
    for part, folder in parts:
        for d in _class_dirs(folder):
            if d.name not in classes:
                raise DataError(f"{d}: class {d.name!r} is not among the training classes ({', '.join(classes)})")
            label = classes.index(d.name)
            entries += [(part, label, *found) for found in _images_in(str(d))]
    return entries, classes, len(parts) == 2


def _listing_digest(root: Path, entries, channels: int, resize) -> str:
    """What the cache must match: every file's path, size and mtime, and the decode settings."""
    h = hashlib.sha256(f"{CACHE_FORMAT}\n{channels}\n{resize}\n".encode())
    skip = len(str(root))
    h.update("".join(f"{part}\t{label}\t{path[skip:]}\t{size}\t{mtime}\n"
                     for part, label, path, size, mtime in entries).encode())
    return h.hexdigest()


def _cache_path(root: Path, channels: int, resize) -> Path:
    """One cache file per (folder, settings): a changed folder overwrites its own, never piles up."""
    key = hashlib.sha256(f"{root.resolve()}|{channels}|{resize}".encode()).hexdigest()[:24]
    return default_data_dir("folders") / f"{root.name}-{key}.npz"


def _read_cache(path: Path, digest: str) -> dict | None:
    try:
        with np.load(path, allow_pickle=False) as z:
            if str(z["digest"]) != digest:
                return None
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, KeyError, EOFError):  # absent, stale format, half-written by another tool
        return None


def _decode_all(entries, channels: int, resize: tuple[int, int] | None) -> tuple[np.ndarray, str | None]:
    """All images as one uint8 array (N, H, W) or (N, 3, H, W); a note when some were resized."""
    from linnet.images import read_image
    paths = [e[2] for e in entries]
    # Pillow releases the GIL while it inflates and decodes: threads overlap the files
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        arrays = list(pool.map(lambda p: read_image(p, channels), paths))
    sizes = Counter(a.shape[:2] for a in arrays)
    target = tuple(resize) if resize else sizes.most_common(1)[0][0]
    out = np.empty((len(arrays), *target, channels) if channels == 3 else (len(arrays), *target), dtype=np.uint8)
    resized = 0
    for i, a in enumerate(arrays):
        if a.shape[:2] != target:
            a = _fit_size(a, target)
            resized += 1
        out[i] = a
    if channels == 3:
        out = np.ascontiguousarray(out.transpose(0, 3, 1, 2))       # (N, H, W, 3) -> (N, 3, H, W)
    note = None
    if resized:
        why = "the size asked for" if resize else f"the most common size, of {sizes[target]} images"
        note = (f"resized {resized} of {len(arrays)} images to {target[0]}x{target[1]} ({why}); "
                "choose the size with --resize HxW")
    return out, note


def load_folder(path: str | os.PathLike, channels: int = 1, resize: int | tuple[int, int] | None = None,
                test_fraction: float = 0.2, seed: int = 0, cache: bool = True) -> Dataset:
    """An ImageFolder tree as a Dataset of uint8 splits (see the module docstring)."""
    if channels not in (1, 3):
        raise ConfigError(f"The 'channels' parameter must be one of 1, 3. Got {channels!r}.")
    resize = check_size("resize", resize)                              # 28 -> (28, 28)
    root = Path(path).expanduser()
    entries, classes, has_test = scan(root)
    digest = _listing_digest(root, entries, channels, resize)
    cache_file = _cache_path(root, channels, resize)
    cached = _read_cache(cache_file, digest) if cache else None
    if cached is None:
        images, note = _decode_all(entries, channels, resize)
        cached = {"digest": np.array(digest), "images": images, "note": np.array(note or "")}
        if cache:
            buf = io.BytesIO()
            np.savez(buf, **cached)
            try:
                cache_file.parent.mkdir(parents=True, exist_ok=True)
                atomic_write_bytes(cache_file, buf.getvalue())
            except OSError:  # a read-only cache only costs the next run its head start
                pass
    images = cached["images"]
    labels = np.array([e[1] for e in entries], dtype=np.int64)
    parts = np.array([e[0] for e in entries])
    notes = [str(cached["note"])] if str(cached["note"]) else []
    if has_test:
        train_idx, test_idx = np.flatnonzero(parts == 0), np.flatnonzero(parts == 1)
    else:
        train_idx, test_idx = split_indices(labels, len(labels), test_fraction, seed, str(root))
        notes.append(f"no test folder: {len(test_idx)} images ({test_fraction:g} of each class, seed {seed}) "
                     "held out as the test split")
    k = len(classes)
    return Dataset(root.name, make_split(images[train_idx], labels[train_idx], k, f"{root}/train", channels=True),
                   make_split(images[test_idx], labels[test_idx], k, f"{root}/test", channels=True), classes,
                   notes=tuple(notes))


def load_image_for(path: str | os.PathLike, channels: int, size: tuple[int, int]):
    """One image prepared exactly as a folder's images were: float32 (C, H, W) in [0, 1] (for predict)."""
    import torch

    from linnet.images import read_image
    a = read_image(path, channels)
    if a.shape[:2] != tuple(size):
        a = _fit_size(a, tuple(size))
    x = torch.from_numpy(np.array(a)).to(torch.float32).div_(255.0)              # a writable copy
    return x[None] if channels == 1 else x.permute(2, 0, 1)            # (1, H, W) or (H, W, 3) -> (3, H, W)
