"""Shared by the benchmarks: generated Fashion-MNIST-shaped data and measuring one variant in a subprocess.

Each variant runs in its own Python process so that its peak RSS (ru_maxrss) is its own.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


def make_data(directory: Path, n_train: int = 60000, n_test: int = 10000, side: int = 28, seed: int = 0,
              compress: bool = True) -> Path:
    """Learnable images: 10 smooth class prototypes, per-sample brightness and noise, as IDX files."""
    from linnet.data.idx import write_idx
    directory.mkdir(parents=True, exist_ok=True)
    names = FILES if compress else tuple(f.removesuffix(".gz") for f in FILES)
    if all((directory / f).exists() for f in names):
        return directory
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:side, 0:side] / (side - 1) - 0.5                               # (side, side) in [-0.5, 0.5]
    mask = (np.abs(xx) < 0.36) & (np.abs(yy) < 0.42)                                   # black border, like clothes
    common = np.cos(5 * xx) * np.cos(4 * yy)
    specific = np.stack([np.sin((k % 5 + 1) * 4.0 * xx + k) * np.cos((k // 5 + 1) * 3.0 * yy - k) for k in range(10)])
    protos = np.clip(0.6 * common + 0.4 * specific, 0, None) * mask                  # (10, side, side), classes overlap
    protos /= protos.max()
    for (img_name, lab_name), n in (((names[0], names[1]), n_train), ((names[2], names[3]), n_test)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = np.empty((n, side, side), np.uint8)
        for start in range(0, n, 10000):  # in chunks: bounded memory for 1M samples
            lab = labels[start:start + 10000]
            x = protos[lab] * rng.uniform(0.4, 1.0, (len(lab), 1, 1)) + rng.normal(0, 0.6, (len(lab), side, side)) * mask
            images[start:start + 10000] = np.clip(x * 255, 0, 255).astype(np.uint8)
        write_idx(directory / img_name, images)
        write_idx(directory / lab_name, labels)
    return directory


def run_variant(script: str, args: list[str], timeout: float = 600) -> dict:
    """Run `python script args...` which prints one JSON line last; return it (plus the exit status)."""
    env = dict(os.environ)
    proc = subprocess.run([sys.executable, script, *args], capture_output=True, text=True, timeout=timeout, env=env)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def peak_rss_mb() -> float:
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB
