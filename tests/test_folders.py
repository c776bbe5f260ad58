"""linnet.data.folders: ImageFolder trees -> uint8 splits, sizes, channels, the decode cache, bad trees."""
from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers_userdata import write_folder
from linnet.data import folders
from linnet.data.folders import load_folder
from linnet.errors import DataError, LinnetError


def test_a_flat_folder_is_split_stratified_and_seeded(tmp_path):
    root = write_folder(tmp_path / "pets")
    ds = load_folder(root, test_fraction=0.25, seed=3)
    assert ds.name == "pets" and ds.classes == ("cat", "dog", "owl")
    assert ds.train.images.dtype == torch.uint8 and tuple(ds.train.images.shape[1:]) == (16, 16)
    assert len(ds.train) + len(ds.test) == 36
    assert torch.bincount(ds.test.labels).tolist() == [3, 3, 3]          # a quarter of each class
    again = load_folder(root, test_fraction=0.25, seed=3, cache=False)
    assert torch.equal(again.test.images, ds.test.images)                # same seed, same split
    other = load_folder(root, test_fraction=0.25, seed=4)
    assert not torch.equal(other.test.images, ds.test.images)
    assert any("held out" in n for n in ds.notes)


def test_the_most_common_size_wins_and_a_note_says_how_many_were_resized(tmp_path):
    ds = load_folder(write_folder(tmp_path / "p"))
    assert tuple(ds.train.images.shape[1:]) == (16, 16)
    assert any(n.startswith("resized 9 of 36 images to 16x16") for n in ds.notes)


def test_resize_and_rgb(tmp_path):
    ds = load_folder(write_folder(tmp_path / "p", colour=True), channels=3, resize=(8, 10))
    assert tuple(ds.train.images.shape[1:]) == (3, 8, 10) and ds.image_shape == (3, 8, 10)
    assert ds.train.images.is_contiguous()
    assert any("the size asked for" in n for n in ds.notes)
    x, label = ds.train[0]                                                   # a map-style item keeps its channels
    assert x.shape == (3, 8, 10) and x.dtype == torch.float32 and isinstance(label, int)
    red = ds.train.images[ds.train.labels == 1].float().mean(dim=(0, 2, 3))  # (3,) per channel
    assert red[0] > red[1]                                                   # class 1 was drawn red


def test_train_and_test_folders_are_kept_as_given(tmp_path):
    ds = load_folder(write_folder(tmp_path / "p", split=True))
    assert (len(ds.train), len(ds.test)) == (36, 12)
    assert not any("held out" in n for n in ds.notes)


def test_the_cache_is_used_and_invalidated_by_a_change(tmp_path, monkeypatch):
    root = write_folder(tmp_path / "p")
    first = load_folder(root)
    calls = []
    real = folders._decode_all
    monkeypatch.setattr(folders, "_decode_all", lambda *a: calls.append(1) or real(*a))
    second = load_folder(root)
    assert calls == [] and torch.equal(first.train.images, second.train.images)   # from the cache
    img = root / "cat" / "000.png"
    os.utime(img, ns=(time.time_ns(), time.time_ns() + 10**9))                     # touched: mtime changed
    load_folder(root)
    assert calls == [1]
    (root / "dog" / "000.png").unlink()                                            # a file removed
    assert len(load_folder(root).train) + len(load_folder(root).test) == 35
    assert calls == [1, 1]


def test_the_cache_lives_in_the_data_cache_not_in_the_users_folder(tmp_path):
    root = write_folder(tmp_path / "p")
    load_folder(root)
    cache_dir = Path(os.environ["LINNET_DATA"]) / "folders"
    files = [f.name for f in cache_dir.iterdir()]
    assert len(files) == 1 and files[0].startswith("p-") and files[0].endswith(".npz")   # whole, no .tmp left
    assert sorted(p.name for p in root.iterdir()) == ["cat", "dog", "owl"]
    load_folder(root, channels=3)                                    # other settings: their own cache file
    assert len(list(cache_dir.iterdir())) == 2


def test_load_image_for_predict_matches_the_training_pixels(tmp_path):
    root = write_folder(tmp_path / "p", split=True)
    ds = load_folder(root, resize=(16, 16))
    x = folders.load_image_for(root / "test" / "cat" / "000.png", 1, (16, 16))
    assert x.shape == (1, 16, 16)
    assert torch.allclose(x[0] * 255, ds.test.images[0].float())


@pytest.mark.parametrize("make, match", [
    (lambda r: (r / "cat" / "notes.txt").write_text("hi"), r"p/cat/notes\.txt: not an image \(expected \.png"),
    (lambda r: (r / "cat" / "bad.png").write_bytes(b"not a png"), r"p/cat/bad\.png: not an image file linnet can read"),
    (lambda r: (r / "cat" / "empty.jpg").write_bytes(b""), r"p/cat/empty\.jpg: is empty"),
])
def test_bad_files_in_a_class_folder_are_named(tmp_path, make, match):
    root = write_folder(tmp_path / "p", classes=("cat", "dog"))
    make(root)
    with pytest.raises(LinnetError, match=match):
        load_folder(root)


def test_an_empty_extra_class_folder_is_named(tmp_path):
    root = write_folder(tmp_path / "p")
    (root / "emu").mkdir()
    with pytest.raises(DataError, match=r"p/emu: the class folder holds no images"):
        load_folder(root)


def test_one_class_only_is_refused(tmp_path):
    with pytest.raises(DataError, match=r"only one class folder \('cat'\); a classifier needs at least two"):
        load_folder(write_folder(tmp_path / "p", classes=("cat",)))


def test_no_class_folders_and_no_folder(tmp_path):
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "a.png").write_bytes(b"")
    with pytest.raises(DataError, match=r"flat: no class folders; expected"):
        load_folder(tmp_path / "flat")
    with pytest.raises(DataError, match=r"nowhere: no such folder"):
        load_folder(tmp_path / "nowhere")


def test_a_test_class_unknown_to_training_is_refused(tmp_path):
    root = write_folder(tmp_path / "p", split=True, classes=("cat", "dog"))
    (root / "test" / "emu").mkdir()
    (root / "test" / "cat" / "000.png").rename(root / "test" / "emu" / "000.png")
    with pytest.raises(DataError, match=r"test/emu: class 'emu' is not among the training classes \(cat, dog\)"):
        load_folder(root)


def test_a_test_fraction_too_small_for_the_classes_is_refused(tmp_path):
    with pytest.raises(DataError, match=r"cannot hold out 0.01 of 36 samples"):
        load_folder(write_folder(tmp_path / "p"), test_fraction=0.01)


def test_channels_must_be_1_or_3(tmp_path):
    with pytest.raises(LinnetError, match=r"The 'channels' parameter must be one of 1, 3. Got 2."):
        load_folder(write_folder(tmp_path / "p"), channels=2)


def test_hidden_files_are_skipped(tmp_path):
    root = write_folder(tmp_path / "p")
    (root / "cat" / ".DS_Store").write_bytes(b"\0")
    ds = load_folder(root)
    assert len(ds.train) + len(ds.test) == 36
    assert np.all(ds.train.labels.numpy() < 3)


def test_rgb_splits_train_in_the_fast_models_kernel_as_in_scratch(tmp_path):
    """(N, 3, H, W) uint8 rows are contiguous: the compiled kernel (when built) walks them like (N, H, W)."""
    from linnet.data.loader import Loader
    from linnet.models import build_model
    from linnet.train import fit
    ds = load_folder(write_folder(tmp_path / "p", colour=True), channels=3)
    d = 3 * 16 * 16
    fast, scratch = (build_model("softmax", impl, d, 3, generator=torch.Generator().manual_seed(0))
                     for impl in ("fast", "scratch"))
    for model in (fast, scratch):
        fit(model, Loader(ds.train, 8, shuffle=True), Loader(ds.test, 8), 2, 0.1)
    assert torch.allclose(fast.state_dict()["W"], scratch.state_dict()["W"], atol=1e-6)
