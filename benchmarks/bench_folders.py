"""Image folders: linnet's decode-once cache against a torchvision-style per-item PIL pipeline.

    python benchmarks/bench_folders.py [--n 10000]

An ImageFolder tree of N generated 28x28 grey PNGs (10 classes) is written once to
benchmarks/.data/folder-N. Then, each in a fresh process, in the same run:
  linnet first run    load_folder with an empty cache: list, decode every PNG, write the cache
  linnet second run   load_folder again: the listing matches, the cache is read
  linnet epoch        one pass of linnet's Loader (batch 256, shuffled) over the resident uint8 split
  per-item PIL        torchvision's recipe written out: a Dataset whose __getitem__ opens one file with
                      Pillow and makes a float tensor, a torch DataLoader (batch 256, shuffled); one epoch
                      (num_workers 0 and 2). This is paid every epoch; linnet pays decoding once.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent / ".data"


def make_folder(n: int, seed: int = 0) -> Path:
    """N learnable PNGs: class c has a bright bar at column band c, plus noise."""
    from PIL import Image
    root = DATA / f"folder-{n}"
    done = root / ".complete"
    if done.exists():
        return root
    rng = np.random.default_rng(seed)
    for i in range(n):
        c = i % 10
        a = rng.integers(0, 60, (28, 28), dtype=np.uint8)
        a[:, 2 + 2 * c:4 + 2 * c] += 180
        d = root / f"class{c}"
        d.mkdir(parents=True, exist_ok=True)
        Image.fromarray(a).save(d / f"{i:05d}.png")
    done.write_text("")
    return root


def linnet_load(root: str) -> dict:
    import sklearn.model_selection  # noqa: F401  (imported by any `linnet train --data`; timed apart)
    import torch  # noqa: F401
    from linnet.data.folders import load_folder
    t0 = time.perf_counter()
    ds = load_folder(root)
    seconds = time.perf_counter() - t0
    from linnet.data.loader import Loader, timed_pass
    epoch = timed_pass(Loader(ds.train, 256, shuffle=True, seed=0))
    return {"seconds": seconds, "epoch_s": epoch, "n": len(ds.train) + len(ds.test)}


def per_item(root: str, workers: int) -> dict:
    import torch
    from PIL import Image
    from torch.utils.data import DataLoader, Dataset

    class Folder(Dataset):  # torchvision.datasets.ImageFolder + ToTensor, written out
        def __init__(self, root):
            classes = sorted(d.name for d in Path(root).iterdir() if d.is_dir())
            self.items = [(p, i) for i, c in enumerate(classes) for p in sorted((Path(root) / c).iterdir())]

        def __len__(self):
            return len(self.items)

        def __getitem__(self, i):
            path, label = self.items[i]
            with Image.open(path) as im:
                x = torch.from_numpy(np.asarray(im.convert("L"), dtype=np.uint8).copy())
            return x.float().div_(255).unsqueeze(0), label                       # (1, 28, 28)

    t0 = time.perf_counter()
    loader = DataLoader(Folder(root), batch_size=256, shuffle=True, num_workers=workers,
                        generator=torch.Generator().manual_seed(0))
    n = sum(len(y) for _, y in loader)
    return {"seconds": time.perf_counter() - t0, "n": n}


def run_worker(args: list[str], env: dict) -> dict:
    out = subprocess.run([sys.executable, __file__, "--worker", *args], check=True, capture_output=True,
                         text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--worker", nargs="+")
    args = parser.parse_args()
    if args.worker:
        kind, root, *rest = args.worker
        print(json.dumps(linnet_load(root) if kind == "linnet" else per_item(root, int(rest[0]))))
        return
    root = make_folder(args.n)
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "LINNET_DATA": cache}                    # an empty cache: the first run decodes
        first = run_worker(["linnet", str(root)], env)
        second = run_worker(["linnet", str(root)], env)
        pil0 = run_worker(["pil", str(root), "0"], env)
        pil2 = run_worker(["pil", str(root), "2"], env)
    print("(torch and scikit-learn imports excluded on both sides: every linnet command pays them)")
    print(f"image folder: {first['n']} PNGs 28x28, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    print(f"{'pipeline':<48}{'seconds':>9}")
    print(f"{'linnet first run (list + decode + cache)':<48}{first['seconds']:>9.2f}")
    print(f"{'linnet second run (cache)':<48}{second['seconds']:>9.2f}")
    print(f"{'linnet one epoch from memory (batch 256)':<48}{second['epoch_s']:>9.3f}")
    print(f"{'per-item PIL + DataLoader, 1 epoch, 0 workers':<48}{pil0['seconds']:>9.2f}")
    print(f"{'per-item PIL + DataLoader, 1 epoch, 2 workers':<48}{pil2['seconds']:>9.2f}")
    print(f"second run vs per-item epoch (0 workers): {pil0['seconds'] / second['seconds']:.1f}x faster; "
          f"10 epochs: linnet {second['seconds'] + 10 * second['epoch_s']:.2f} s (cached) vs "
          f"{10 * pil0['seconds']:.1f} s")


if __name__ == "__main__":
    main()
