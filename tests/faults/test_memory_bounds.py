"""Fault: inputs whose real size is far from what they declare or ask for: tiny images of extreme
aspect ratio, gzip bombs, a huge sparse checkpoint, a deeply nested checkpoint header, a hand-edited
`num_inputs`, `--batch-size 1000000000`, `--resize 10000`, IDX files of 65-255 dimensions.

Expected: memory bounded by what the input really is (a valid image is predicted, a bad file is one
line naming it), and every size checked against a documented limit before anything is allocated or
written. The commands that could allocate run in one child process whose address space is capped
(resource.setrlimit(RLIMIT_AS)) at what it uses once linnet and torch are loaded plus HEADROOM: a
regression fails there with a MemoryError or a crash instead of swapping the machine.
"""
from __future__ import annotations

import gzip
import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import STANDARD_NAMES, write_fake_dataset
from fault_tools import assert_one_line_error, child_env, cli, make_run, snapshot
from PIL import Image

from linnet.checks import MAX_PARAMETERS, MAX_SIDE
from linnet.data.idx import MAX_DIMS, MAX_INFLATED_BYTES, idx_header
from linnet.runs import CHECKPOINT

HEADROOM = 1 << 30  # 1 GiB over the loaded interpreter: ample for every legitimate case below

# Runs `linnet.cli.main` on each case under the cap; prints {case: [exit code, stdout, stderr]} as JSON.
CHILD = r"""
import contextlib, io, json, resource, sys
import torch, linnet.cli, linnet.images, linnet.data.idx, linnet.restore, PIL.Image, PIL.PngImagePlugin, PIL.JpegImagePlugin
cases, headroom = json.loads(sys.argv[1]), int(sys.argv[2])
with open("/proc/self/statm") as f:
    in_use = int(f.read().split()[0]) * resource.getpagesize()
resource.setrlimit(resource.RLIMIT_AS, (in_use + headroom, resource.getrlimit(resource.RLIMIT_AS)[1]))
results = {}
for name, argv in cases.items():
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = linnet.cli.main(argv)
        except BaseException as exc:  # a MemoryError is exactly the regression this catches
            rc = f"crashed: {type(exc).__name__}: {exc}"
    results[name] = [rc, out.getvalue(), err.getvalue()]
print(json.dumps(results))
"""

ZEROS_16M = 16 << 20


def gzip_bomb(first: bytes, inflated_extra: int) -> bytes:
    """gzip of `first`, then members of zeros inflating to `inflated_extra` more bytes (~1 KB per MiB)."""
    zeros = gzip.compress(bytes(ZEROS_16M), compresslevel=9, mtime=0)
    return gzip.compress(first, mtime=0) + zeros * (inflated_extra // ZEROS_16M)


def damaged_run(base: Path, root: Path, name: str, damage) -> Path:
    run_dir = root / name
    shutil.copytree(base, run_dir)
    damage(run_dir)
    return run_dir


def sparse_checkpoint(run_dir: Path) -> None:
    """The real checkpoint, then zeros up to 4 GiB (a sparse file: no disk used)."""
    os.truncate(run_dir / CHECKPOINT, 4 << 30)


def declares_4_gib(run_dir: Path) -> None:
    """A well-formed header declaring one 4 GiB tensor, and a sparse file of exactly that size."""
    header = json.dumps({"__metadata__": {"format": "linnet-checkpoint/1"},
                         "model.W": {"dtype": "F32", "shape": [1 << 30], "data_offsets": [0, 4 << 30]}}).encode()
    path = run_dir / CHECKPOINT
    path.write_bytes(struct.pack("<Q", len(header)) + header)
    os.truncate(path, 8 + len(header) + (4 << 30))


def nested_header(run_dir: Path) -> None:
    header = b"[" * 100_000 + b"]" * 100_000
    (run_dir / CHECKPOINT).write_bytes(struct.pack("<Q", len(header)) + header)


def num_inputs(value):
    def edit(run_dir: Path) -> None:
        config = json.loads((run_dir / "config.json").read_text())
        config["dataset"]["num_inputs"] = value
        (run_dir / "config.json").write_text(json.dumps(config))
    return edit


def images(d: Path) -> dict[str, Path]:
    """Tiny files of extreme aspect ratio (valid images: each must be predicted), and a plain one."""
    d.mkdir()
    paths = {"tall": d / "tall.png", "wide": d / "wide.jpg", "long": d / "long.png", "plain": d / "plain.png"}
    Image.new("L", (1, 30_000), 255).save(paths["tall"])                  # 1x30000: once 3.7 GB
    Image.new("L", (54_824, 30), 200).save(paths["wide"], quality=50)     # 54824x30: once 11.7 GB
    Image.new("L", (40_000_000, 1), 0).save(paths["long"])                # at the 40 Mpx limit: once a crash
    Image.new("L", (30, 20), 0).save(paths["plain"])
    return paths


@pytest.fixture(scope="module")
def capped(tmp_path_factory):
    """Every allocating case, run in one address-space-capped child -> (results by case, paths)."""
    root = tmp_path_factory.mktemp("memory")
    base = make_run(root / "runs", "base")
    paths = {"images": images(root / "images")}
    damages = {"sparse-4gib": sparse_checkpoint, "declares-4gib": declares_4_gib, "nested-header": nested_header,
               "num-inputs-1e11": num_inputs(1e11), "num-inputs-int": num_inputs(10 ** 11)}
    runs = {name: damaged_run(base, root / "damaged", name, damage) for name, damage in damages.items()}
    paths["runs"] = runs
    # gzip bombs: a valid 50-image header whose file inflates 2 GiB past it; a header declaring 8 GiB
    bombs = {}
    for name, head in (("bomb", idx_header(np.uint8, (50, 28, 28)) + bytes(50 * 784)),
                       ("declares-8gib", idx_header(np.uint8, (1 << 17, 256, 256)))):
        data = root / name
        write_fake_dataset(data, 50, 20)
        (data / STANDARD_NAMES["train_images"]).write_bytes(gzip_bomb(head, 2 << 30))
        bombs[name] = data
    paths["bombs"] = bombs
    small = root / "small"
    write_fake_dataset(small, 50, 20)
    paths["small"] = small
    cases = {
        "predict": ["predict", str(base), *(str(p) for p in paths["images"].values())],
        **{name: ["evaluate", str(run_dir)] for name, run_dir in runs.items()},
        **{name: ["train", "--dataset", "fashion-mnist", "--data-dir", str(d), "--runs-dir", str(root / f"runs-{name}"),
                  "--quiet", "--no-plots"] for name, d in bombs.items()},
        "huge-batch": ["train", "--dataset", "fashion-mnist", "--data-dir", str(small), "--runs-dir",
                       str(root / "r"), "--name", "batch", "--batch-size", "1000000000", "--epochs", "2",
                       "--no-plots", "--device", "cpu"],
    }
    proc = subprocess.run([sys.executable, "-c", CHILD, json.dumps(cases), str(HEADROOM)], capture_output=True,
                          text=True, env=child_env(), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.splitlines()[-1]), paths, root


def test_images_of_extreme_aspect_ratio_are_predicted_in_bounded_memory(capped):
    results, paths, _ = capped
    rc, out, err = results["predict"]
    assert rc == 0 and err == "", err
    assert [line.rsplit(": ", 1)[0] for line in out.splitlines()] == [str(p) for p in paths["images"].values()]


@pytest.mark.parametrize("case, problem", [
    ("sparse-4gib", "its header declares"),
    ("declares-4gib", "larger than any linnet checkpoint"),
    ("nested-header", "damaged checkpoint header (RecursionError"),
])
def test_a_huge_or_deeply_nested_checkpoint_is_refused_before_it_is_read(capped, case, problem):
    results, paths, _ = capped
    rc, out, err = results[case]
    assert rc == 2 and out == ""
    assert_one_line_error(err, "evaluate", str(paths["runs"][case] / CHECKPOINT), problem)


@pytest.mark.parametrize("case", ["num-inputs-1e11", "num-inputs-int"])
def test_a_hand_edited_num_inputs_is_refused_before_allocating(capped, case):
    results, paths, _ = capped
    rc, out, err = results[case]
    assert rc == 2 and out == ""
    assert_one_line_error(err, "evaluate", str(paths["runs"][case] / "config.json"), "100000000000")


def test_a_gzip_bomb_is_inflated_only_to_its_declared_size(capped):
    results, paths, root = capped
    rc, out, err = results["bomb"]
    assert rc == 2 and out == ""
    assert_one_line_error(err, "train", STANDARD_NAMES["train_images"], "header says 50x28x28 = 39200 bytes",
                          "gzip bomb")
    assert not (root / "runs-bomb").exists()


def test_an_idx_header_declaring_more_than_the_limit_is_refused_before_inflating(capped):
    results, _, root = capped
    rc, out, err = results["declares-8gib"]
    assert rc == 2 and out == ""
    assert_one_line_error(err, "train", STANDARD_NAMES["train_images"], "131072x256x256",
                          f"more than the {MAX_INFLATED_BYTES >> 30} GiB", "--mmap")
    assert not (root / "runs-declares-8gib").exists()


def test_a_batch_larger_than_the_data_is_the_whole_split(capped):
    results, _, root = capped
    rc, out, err = results["huge-batch"]
    assert rc == 0, err
    assert "note: --batch-size 1000000000 is more than the 50 training samples" in err
    assert json.loads((root / "r" / "batch" / "summary.json").read_text())["epochs"] == 2


@pytest.mark.parametrize("argv, value", [
    (["train", "--dataset", "digits", "--resize", "10000"], "10000"),
    (["train", "--dataset", "digits", "--resize", str(MAX_SIDE + 1)], str(MAX_SIDE + 1)),
    (["data", "--dataset", "digits", "--resize", "5000"], "5000"),
])
def test_a_resize_above_the_limit_is_refused_before_anything(tmp_path, capsys, monkeypatch, argv, value):
    monkeypatch.chdir(tmp_path)
    rc, out, err = cli(argv, capsys)
    assert rc == 2 and out == ""
    assert_one_line_error(err, argv[0], f"The --resize option must be at most {MAX_SIDE} a side",
                          f"Got {value}.")
    assert list(tmp_path.iterdir()) == []


def test_a_model_above_the_parameter_limit_is_refused_before_allocating():
    from linnet.errors import ConfigError
    from linnet.models import build_model
    with pytest.raises(ConfigError, match=rf"^the model: {MAX_PARAMETERS} inputs x 2 outputs = "
                                          rf"{2 * MAX_PARAMETERS} weights, more than the {MAX_PARAMETERS}"):
        build_model("softmax", "fast", MAX_PARAMETERS, 2)


@pytest.mark.parametrize("ndim", [MAX_DIMS + 1, 255])
@pytest.mark.parametrize("form", ["raw", "gz", "mmap"])
def test_an_idx_file_of_too_many_dimensions_is_one_line(tmp_path, capsys, ndim, form):
    data = tmp_path / "data"
    write_fake_dataset(data, 50, 20, gz=form == "gz")
    name = STANDARD_NAMES["test_labels"] if form == "gz" else STANDARD_NAMES["test_labels"].removesuffix(".gz")
    body = idx_header(np.uint8, (1,) * ndim) + b"\x01"
    (data / name).write_bytes(gzip.compress(body) if form == "gz" else body)
    before = snapshot(data)
    rc, out, err = cli(["train", "--dataset", "fashion-mnist", "--data-dir", data, "--runs-dir", tmp_path / "runs",
                        *(["--mmap"] if form == "mmap" else [])], capsys)
    assert rc == 2 and out == ""
    assert_one_line_error(err, "train", f"{name}: header declares {ndim} dimensions",
                          f"at most {MAX_DIMS} dimensions")
    assert snapshot(data) == before and not (tmp_path / "runs").exists()
