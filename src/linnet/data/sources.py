"""Named datasets: what files they are, where they come from, what their labels mean.

A dataset is data (file names, checksums, mirrors, class names), not a class hierarchy.
IDX datasets are looked up in `data_dir`, else `$LINNET_DATA/<name>`, else the per-user cache
`<cache>/linnet/<name>`; missing files are downloaded with pooch (MD5-verified, moved into place
only when complete), trying each mirror in turn.

Importing this module is cheap (no numpy, torch or pooch until data is loaded): the CLI reads the
dataset names from here before it parses its arguments.
"""
from __future__ import annotations

import errno
import logging
import os
import re
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from linnet.data import mapped
from linnet.data.dataset import Dataset, make_split
from linnet.data.store import default_data_dir
from linnet.errors import DataError, DownloadError

FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
DIGIT_CLASSES = tuple(str(d) for d in range(10))
ROLES = ("train_images", "train_labels", "test_images", "test_labels")


@dataclass(frozen=True)
class IDXSource:
    """Four IDX files (by role), their MD5s (of the .gz files), mirrors and class names."""
    name: str
    files: dict[str, tuple[str, str]]  # role -> (file name, md5 of the .gz)
    mirrors: tuple[str, ...]
    classes: tuple[str, ...]


def _standard_files(md5s: tuple[str, str, str, str]) -> dict[str, tuple[str, str]]:
    names = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
             "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
    return dict(zip(ROLES, zip(names, md5s)))


SOURCES: dict[str, IDXSource] = {
    "fashion-mnist": IDXSource(
        "fashion-mnist",
        _standard_files(("8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe",
                         "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310")),
        ("https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
         "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"),
        FASHION_MNIST_CLASSES,
    ),
    "mnist": IDXSource(
        "mnist",
        _standard_files(("f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432",
                         "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c")),
        ("https://ossci-datasets.s3.amazonaws.com/mnist/",
         "https://storage.googleapis.com/cvdf-datasets/mnist/"),
        DIGIT_CLASSES,
    ),
}
DATASETS = ("fashion-mnist", "mnist", "digits")


def missing_files(name: str, directory: str | os.PathLike) -> list[str]:
    """The files of IDX dataset `name` that `directory` lacks (each may be there as .gz or uncompressed)."""
    return [gz for gz, _ in SOURCES[name].files.values() if _find_local(Path(directory), gz) is None]


def _find_local(directory: Path, gz_name: str, prefer_raw: bool = False) -> Path | None:
    """A file is usable as `name.gz` or uncompressed as `name` (preferred for memory-mapping).

    Whatever is there under either name counts as present: a FIFO or a device is then refused by name
    when it is read (linnet.data.idx.open_data_file), instead of being taken for missing and downloaded over.
    """
    candidates = [directory / gz_name, directory / gz_name.removesuffix(".gz")]
    for candidate in reversed(candidates) if prefer_raw else candidates:
        if candidate.exists():
            return candidate
    return None


def _download(source: IDXSource, role: str, directory: Path, progress: bool) -> Path:
    """Fetch one file, mirror after mirror, verified by MD5; the final name only ever holds it whole."""
    import pooch
    import requests
    name, md5 = source.files[role]
    errors = []
    for mirror in source.mirrors:
        try:
            downloader = pooch.HTTPDownloader(progressbar=progress, timeout=30)
            return Path(pooch.retrieve(mirror + name, known_hash=f"md5:{md5}", fname=name,
                                       path=directory, downloader=downloader))
        except (ValueError, OSError, requests.exceptions.RequestException) as exc:
            if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES):
                # a local problem: another mirror cannot help, and the partial file is already gone
                raise DownloadError(f"{directory}: cannot write {name} ({exc.strerror or exc}); "
                                    "free some space or pass another --data-dir") from None
            errors.append(f"{mirror}{name} ({_reason(exc)})")
    all_names = ", ".join(n for n, _ in source.files.values())
    raise DownloadError(
        f"could not download {name} for {source.name}; tried: " + "; ".join(errors)
        + f". Place the files {all_names} in {directory} by hand (or pass --data-dir DIR),"
        + " or work offline with --dataset digits.")


def _reason(exc: Exception) -> str:
    """A download failure in a few words (requests' own messages run to several lines of URL)."""
    import requests
    text = str(exc)
    if isinstance(exc, ValueError) and "hash" in text.lower():
        return "checksum mismatch"
    if isinstance(exc, requests.exceptions.HTTPError) and exc.response is not None:
        return f"HTTP {exc.response.status_code} {exc.response.reason}"
    if isinstance(exc, requests.exceptions.Timeout):
        return "timed out"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError) or "Connection broken" in text:
        return "Connection broken mid-file"
    if isinstance(exc, requests.exceptions.ConnectionError):
        errno_text = re.search(r"\[Errno -?\d+\] ([^)\]\"']+)", text)
        return f"cannot connect: {errno_text.group(1).strip() if errno_text else 'connection failed'}"
    return text.splitlines()[0] if text else type(exc).__name__


_read_ahead: dict[tuple[Path, bool], Future] = {}   # (file, mmap) -> its array being read (see read_ahead)


def read_ahead(name: str, data_dir: str | os.PathLike | None = None, mmap: bool = False) -> None:
    """Start reading the local IDX files of dataset `name` on background threads, returning at once.

    Reading and inflating release the GIL, so `linnet train` imports torch meanwhile instead of
    after (each takes a core for a few tenths of a second to a second). load_idx_dataset takes the
    arrays from here; a missing file (to download) or a bad one is left to it, with the same errors.
    """
    if name not in SOURCES:
        return
    from linnet.data.idx import read_idx
    if mmap:
        mapped.install()  # here, on the main thread: the reads below run on others
    directory = Path(data_dir).expanduser() if data_dir is not None else default_data_dir(name)
    pool = ThreadPoolExecutor(max_workers=len(ROLES))
    for gz_name, _ in SOURCES[name].files.values():
        path = _find_local(directory, gz_name, prefer_raw=mmap)
        if path is not None:
            _read_ahead[(path, mmap)] = pool.submit(read_idx, path, mmap)
    pool.shutdown(wait=False)


def load_idx_dataset(name: str, data_dir: str | os.PathLike | None = None,
                     download: bool = True, progress: bool = True, mmap: bool = False) -> Dataset:
    """Load fashion-mnist or mnist from IDX files, downloading missing ones when allowed."""
    from linnet.data.idx import read_idx
    if mmap:
        mapped.install()  # here, on the main thread: the reads below run on others
    source = SOURCES[name]
    directory = Path(data_dir).expanduser() if data_dir is not None else default_data_dir(name)
    paths = {}
    for role, (gz_name, _) in source.files.items():
        path = _find_local(directory, gz_name, prefer_raw=mmap)
        if path is None:
            if not download:
                raise DataError(f"{directory}: {gz_name} is missing (downloads are off)")
            try:
                directory.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DataError(f"{directory}: cannot create the data directory ({exc.strerror or exc})") from None
            import pooch  # its logger is a private logging.Logger: getLogger("pooch") is another one
            pooch.get_logger().setLevel(logging.WARNING)
            path = _download(source, role, directory, progress)
        paths[role] = path
    # zlib releases the GIL: the four files inflate in parallel (the train images dominate)
    with ThreadPoolExecutor(max_workers=len(paths)) as pool:
        reads = {role: _read_ahead.pop((path, mmap), None) or pool.submit(read_idx, path, mmap)
                 for role, path in paths.items()}
        arrays = {role: read.result() for role, read in reads.items()}
    splits = []
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        where = f"{paths[f'{split}_images'].name} / {paths[f'{split}_labels'].name}"
        splits.append(make_split(images, labels, len(source.classes), where))
    train_hw, test_hw = tuple(splits[0].images.shape[1:]), tuple(splits[1].images.shape[1:])
    if train_hw != test_hw:  # else the model, sized for the train images, fails mid-run on the test set
        raise DataError(f"{paths['train_images'].name} / {paths['test_images'].name}: the train images are "
                        f"{'x'.join(map(str, train_hw))} but the test images are {'x'.join(map(str, test_hw))}; "
                        "the sizes must agree")
    return Dataset(name, splits[0], splits[1], source.classes)


def load_digits_dataset(test_fraction: float = 0.2, seed: int = 0) -> Dataset:
    """scikit-learn's bundled 8x8 digits (1797 images, offline), split stratified and deterministically.

    Pixel values 0..16 are scaled to 0..255 so that every dataset is uint8 like the IDX ones.
    """
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    bunch = load_digits()
    images = np.rint(bunch.images * (255.0 / 16.0)).astype(np.uint8)  # (1797, 8, 8)
    labels = bunch.target.astype(np.int64)
    tr_x, te_x, tr_y, te_y = train_test_split(images, labels, test_size=test_fraction,
                                              stratify=labels, random_state=seed)
    return Dataset("digits", make_split(tr_x, tr_y, 10, "digits/train"),
                   make_split(te_x, te_y, 10, "digits/test"), DIGIT_CLASSES)


def load_dataset(name: str | None = None, data_dir: str | os.PathLike | None = None, download: bool = True,
                 progress: bool = True, mmap: bool = False, *, path: str | os.PathLike | None = None,
                 **options) -> Dataset:
    """Load a named dataset: 'fashion-mnist', 'mnist' (IDX files) or 'digits' (bundled, offline);
    or, with `path=`, your own data: an image folder, a CSV / Parquet table or an .npz (options:
    see linnet.data.paths.load_path: label, task, channels, resize, test_fraction, seed)."""
    if path is not None:
        if name is not None:
            raise DataError(f"give a dataset name or a path, not both (got {name!r} and {str(path)!r})")
        from linnet.data.paths import load_path
        return load_path(path, **options)
    if name == "digits":
        return load_digits_dataset()
    if name not in SOURCES:
        raise DataError(f"unknown dataset {name!r}; expected one of {', '.join(DATASETS)}")
    return load_idx_dataset(name, data_dir, download=download, progress=progress, mmap=mmap)
