"""Shared helpers for the training / run-directory / CLI tests (not fixtures of conftest.py).

Import what you need: `from helpers_train import run_cli, is_png, no_plots  # noqa: F401`.
"""
from __future__ import annotations

import html.parser
import json
import os
import struct
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from linnet.data.dataset import Split

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def is_png(path) -> bool:
    """True when `path` is a whole PNG: the signature, and Pillow can decode every pixel."""
    from PIL import Image
    path = Path(path)
    if not path.is_file() or path.read_bytes()[:8] != PNG_SIGNATURE:
        return False
    with Image.open(path) as im:
        im.load()
        return im.format == "PNG" and im.width > 0 and im.height > 0


def run_cli(argv, capsys) -> tuple[int, str, str]:
    """linnet.cli.main(argv) -> (exit code, stdout, stderr); argparse's SystemExit is an exit code too."""
    from linnet.cli import main
    try:
        rc = main([str(a) for a in argv])
    except SystemExit as exc:
        rc = exc.code
    out, err = capsys.readouterr()
    return rc, out, err


def read_json(path) -> dict:
    return json.loads(Path(path).read_text())


def metrics_rows(run_dir) -> list[dict]:
    import csv
    with open(Path(run_dir) / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


class _Refs(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.images: list[dict] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.refs += [v for k, v in attrs if k in ("src", "href") and v is not None]
        if tag == "img":
            self.images.append(dict(attrs))


def html_refs(path) -> list[str]:
    """Every src= and href= value in an HTML file."""
    parser = _Refs()
    parser.feed(Path(path).read_text())
    return parser.refs


def report_figures(path) -> list[str]:
    """The figure files embedded in a report.html, by name; each must be a data: URI holding exactly
    the bytes of that file of the run directory (the page is self-contained: no file is linked)."""
    import base64
    parser = _Refs()
    parser.feed(Path(path).read_text())
    assert all(ref.startswith("data:") for ref in parser.refs), parser.refs
    names = []
    for img in parser.images:
        head, data = img["src"].split(",", 1)
        assert head == "data:image/png;base64"
        assert base64.b64decode(data) == (Path(path).parent / img["data-file"]).read_bytes(), img["data-file"]
        names.append(img["data-file"])
    return names


def checkpoint_state(run_dir) -> dict[str, torch.Tensor]:
    from linnet.runs import RunDir
    state, _, _ = RunDir(run_dir).load_checkpoint()
    return state


def rewrite_checkpoint_metadata(path, **changes: str) -> None:
    """Edit the string metadata of a safetensors file in place, keeping the tensors' bytes as they are."""
    path = Path(path)
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    header["__metadata__"].update(changes)
    new = json.dumps(header).encode()
    new += b" " * (-len(new) % 8)  # keep the data section 8-byte aligned, as safetensors writes it
    path.write_bytes(struct.pack("<Q", len(new)) + new + data[8 + n:])


def stripes_arrays(n_train: int, n_test: int, size: int = 28, seed: int = 0) -> dict[str, np.ndarray]:
    """uint8 images whose class is which horizontal band is bright (plus noise): learnable in a few steps."""
    rng = np.random.default_rng(seed)
    band = size // 10

    def make(n: int):
        labels = rng.integers(0, 10, size=n).astype(np.uint8)
        images = rng.integers(0, 60, size=(n, size, size)).astype(np.uint8)
        for i, c in enumerate(labels):
            images[i, c * band:(c + 1) * band, :] = rng.integers(180, 256, size=(band, size))
        return images, labels

    tr_x, tr_y = make(n_train)
    te_x, te_y = make(n_test)
    return {"train_images": tr_x, "train_labels": tr_y, "test_images": te_x, "test_labels": te_y}


IDX_NAMES = {"train_images": "train-images-idx3-ubyte.gz", "train_labels": "train-labels-idx1-ubyte.gz",
             "test_images": "t10k-images-idx3-ubyte.gz", "test_labels": "t10k-labels-idx1-ubyte.gz"}


def write_idx_dataset(directory, n_train: int = 300, n_test: int = 100, size: int = 28) -> dict[str, np.ndarray]:
    """The four standard IDX files (gzip) of a learnable fake dataset in `directory`."""
    from linnet.data.idx import write_idx
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    arrays = stripes_arrays(n_train, n_test, size)
    for role, name in IDX_NAMES.items():
        write_idx(directory / name, arrays[role], compress=True)
    return arrays


def tiny_split(n: int = 64, size: int = 4, seed: int = 0) -> Split:
    """A linearly separable 4-class image split: class c lights up row c of a size x size image."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 4
    images = torch.randint(0, 40, (n, size, size), generator=g, dtype=torch.uint8)
    images[torch.arange(n), labels] = 255
    return Split(images, labels.to(torch.int64))


def _tiny_png(path) -> None:
    from PIL import Image
    Image.new("L", (2, 2)).save(path, format="PNG")


@pytest.fixture
def no_plots(monkeypatch):
    """Skip matplotlib in tests about numbers, not figures: each figure becomes a 2x2 PNG.

    Drawing the figures takes seconds per run (curves after every epoch, four at the end); the
    figures themselves are tested by test_plots.py and by one full end-to-end run.
    """
    skip_plots(monkeypatch)


def skip_plots(monkeypatch) -> None:
    """no_plots' work, for a module-scoped fixture (with pytest.MonkeyPatch.context() as mp)."""
    import linnet.plots as plots
    for name in ("plot_curves", "plot_predictions", "plot_confusion", "plot_weights", "plot_scatter"):
        monkeypatch.setattr(plots, name, lambda *a, **k: None)
    monkeypatch.setattr(plots, "save_figure", lambda fig, path, dpi=100: _tiny_png(path))


def run_sgd(model, batches, *, lr, epochs=1, schedule="constant", gamma=0.9, step_size=1, weight_decay=0.0):
    """linnet.train.fit over `batches` (a list or a Loader), evaluated on the same batches; returns
    each epoch's mean training loss. The tests compare implementations step for step through it."""
    from linnet.train import fit
    history = fit(model, batches, batches, epochs, lr, lr_schedule=schedule, lr_gamma=gamma, lr_step=step_size,
                  weight_decay=weight_decay)
    return [r.train_loss for r in history]


@pytest.fixture(scope="module")
def small_digits_run(tmp_path_factory):
    """A 3-epoch digits run without figures (for evaluate / predict): its run directory."""
    from linnet.config import TrainConfig
    from linnet.experiment import train
    runs = tmp_path_factory.mktemp("runs")
    with pytest.MonkeyPatch.context() as mp:
        skip_plots(mp)
        return train(TrainConfig(dataset="digits", epochs=3, runs_dir=str(runs), name="d"), quiet=True).run_dir


def write_png(path, size=(16, 16), value=200):
    """A grey PNG with a vertical bright stroke (a '1'-like image)."""
    from PIL import Image
    img = np.zeros((size[1], size[0]), dtype=np.uint8)
    img[:, size[0] // 2 - 1:size[0] // 2 + 1] = value
    Image.fromarray(img).save(path, format="PNG")
    return path


def pty_chunks(master: int, deadline: float):
    """What a child writes to its pseudo-terminal, chunk by chunk, until it closes the terminal or the
    deadline passes; b"" every 0.1 s of silence, so the caller can act while the child runs."""
    import select
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        if not ready:
            yield b""
            continue
        try:
            chunk = os.read(master, 65536)
        except OSError:   # EIO: the child closed the terminal
            return
        if not chunk:
            return
        yield chunk
