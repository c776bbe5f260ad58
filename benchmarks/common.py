"""Shared by the benchmarks: generated Fashion-MNIST-shaped data and peak memory."""
from __future__ import annotations

from pathlib import Path

FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


def make_data(directory: Path, n_train: int = 60000, n_test: int = 10000, side: int = 28, seed: int = 0,
              compress: bool = True) -> Path:
    """Learnable Fashion-MNIST-shaped images as the four IDX files (gzip or raw), written in chunks
    (bounded memory even for millions of samples): 10 overlapping class prototypes on a black
    border, per-sample brightness and noise. Softmax regression reaches about 0.89 on them."""
    import gzip

    import numpy as np

    from linnet.data.idx import idx_header
    directory.mkdir(parents=True, exist_ok=True)
    names = FILES if compress else tuple(f.removesuffix(".gz") for f in FILES)
    if all((directory / f).exists() for f in names):
        return directory
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:side, 0:side] / (side - 1) - 0.5                               # (side, side) in [-0.5, 0.5]
    mask = (np.abs(xx) < 0.36) & (np.abs(yy) < 0.42)                                   # black border, like clothes
    common = np.cos(5 * xx) * np.cos(4 * yy)
    specific = np.stack([np.sin((k % 5 + 1) * 4.0 * xx + k) * np.cos((k // 5 + 1) * 3.0 * yy - k) for k in range(10)])
    protos = np.clip(0.6 * common + 0.4 * specific, 0, None) * mask                    # (10, side, side), classes overlap
    protos /= protos.max()
    opener = (lambda p: gzip.open(p, "wb", compresslevel=6)) if compress else (lambda p: open(p, "wb"))
    for (img_name, lab_name), n in (((names[0], names[1]), n_train), ((names[2], names[3]), n_test)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        tmp = directory / f".{img_name}.partial"
        with opener(tmp) as f:
            f.write(idx_header(np.uint8, (n, side, side)))
            for start in range(0, n, 10000):
                lab = labels[start:start + 10000]
                x = protos[lab] * rng.uniform(0.4, 1.0, (len(lab), 1, 1)) + rng.normal(0, 0.6, (len(lab), side, side)) * mask
                f.write(np.clip(x * 255, 0, 255).astype(np.uint8).tobytes())
        tmp.replace(directory / img_name)
        with opener(directory / lab_name) as f:
            f.write(idx_header(np.uint8, (n,)) + labels.tobytes())
    return directory


def peak_rss_mb() -> float:
    """This process's own peak resident memory (VmHWM), in MB.

    Not getrusage's ru_maxrss: on Linux that survives fork + exec (the kernel keeps the larger of the
    old and new address space's high-water mark), so a worker started by a parent that once held
    more memory reports the parent's peak. VmHWM belongs to the address space, which exec replaces.
    """
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0    # kB
    raise RuntimeError("no VmHWM in /proc/self/status: the benchmarks measure memory on Linux only")


def ru_maxrss_mb() -> float:
    """getrusage's ru_maxrss (Linux: KiB) in MB: shown next to peak_rss_mb to make the difference visible."""
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
