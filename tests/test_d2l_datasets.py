import pickle

import numpy as np
import pytest
import torch
from conftest import STANDARD_NAMES, fake_gz_bytes, fake_source, write_fake_dataset
from PIL import Image
from torch.utils import data

from linnet.d2l.datasets import FashionMNIST
from linnet.d2l.transforms import ToTensor
from linnet.data import sources
from linnet.errors import ConfigError, DataError, DownloadError


@pytest.mark.parametrize("layout", ["FashionMNIST/raw", "."], ids=["torchvision", "flat"])
@pytest.mark.parametrize("gz", [True, False], ids=["gz", "raw"])
def test_root_holds_the_files_directly_or_in_torchvisions_layout(tmp_path, layout, gz):
    arrays = write_fake_dataset(tmp_path / layout, 37, 11, gz=gz)
    train, test = FashionMNIST(tmp_path), FashionMNIST(str(tmp_path), train=False)
    assert (len(train), len(test)) == (37, 11)
    np.testing.assert_array_equal(train.data.numpy(), arrays["train_images"])
    np.testing.assert_array_equal(test.targets.numpy(), arrays["test_labels"])
    assert train.classes[0] == "T-shirt/top" and len(train.classes) == 10


def test_items_are_pil_images_and_int_labels_before_the_transform(data_dir):
    ds = FashionMNIST(data_dir)
    img, label = ds[5]
    assert isinstance(img, Image.Image) and img.mode == "L" and img.size == (28, 28)
    np.testing.assert_array_equal(np.asarray(img), ds.data[5].numpy())
    assert isinstance(label, int) and label == int(ds.targets[5])


def test_transform_and_target_transform_apply_to_each_item(data_dir):
    ds = FashionMNIST(data_dir, transform=ToTensor(), target_transform=lambda t: t + 100)
    x, label = ds[-1]
    assert x.shape == (1, 28, 28) and x.dtype == torch.float32
    assert torch.equal(x[0], ds.data[-1].float() / 255)
    assert label == int(ds.targets[-1]) + 100
    assert "Split: Train" in repr(ds) and "Number of datapoints: 50" in repr(ds)


def test_a_dataloader_with_worker_processes_reads_every_item_once(data_dir):
    ds = FashionMNIST(data_dir, train=False, transform=ToTensor())
    batches = list(data.DataLoader(ds, 8, shuffle=True, num_workers=2))
    X = torch.cat([x for x, _ in batches])
    y = torch.cat([y for _, y in batches])
    assert X.shape == (20, 1, 28, 28) and y.dtype == torch.int64
    assert sorted(y.tolist()) == sorted(ds.targets.tolist())


def test_the_dataset_pickles_whole_as_spawned_workers_receive_it(data_dir):
    ds = FashionMNIST(data_dir, transform=ToTensor())
    copy = pickle.loads(pickle.dumps(ds))
    assert len(copy) == len(ds)
    assert torch.equal(copy[7][0], ds[7][0]) and copy[7][1] == ds[7][1]


@pytest.mark.slow
def test_spawned_workers_read_it(data_dir):
    """What macOS and Windows do (seconds: each spawned worker imports torch)."""
    ds = FashionMNIST(data_dir, train=False, transform=ToTensor())
    loader = data.DataLoader(ds, 10, num_workers=1, multiprocessing_context="spawn")
    assert torch.cat([y for _, y in loader]).tolist() == ds.targets.tolist()


def test_missing_files_without_download_say_where_they_were_looked_for(tmp_path):
    (tmp_path / "FashionMNIST" / "raw").mkdir(parents=True)
    with pytest.raises(DataError, match=f"{tmp_path}: FashionMNIST not found; {tmp_path}/FashionMNIST/raw lacks "
                                        r"train-images-idx3-ubyte.gz, .*t10k-labels-idx1-ubyte.gz \(looked in "
                                        ".*Pass download=True to fetch them"):
        FashionMNIST(tmp_path)


def test_a_partial_directory_is_not_taken_for_the_dataset(tmp_path):
    write_fake_dataset(tmp_path, 10, 5)
    (tmp_path / STANDARD_NAMES["test_labels"]).unlink()
    with pytest.raises(DataError, match=f"{tmp_path} lacks t10k-labels-idx1-ubyte.gz \\(looked in"):
        FashionMNIST(tmp_path)


def test_download_fetches_verified_files_into_torchvisions_layout(tmp_path, http_server, monkeypatch):
    blobs, arrays = fake_gz_bytes(tmp_path / "staging", 23, 9)
    server = http_server()
    for name, blob in blobs.items():
        server.serve("f/" + name, blob)
    monkeypatch.setitem(sources.SOURCES, "fashion-mnist", fake_source([server.url("f/")], blobs, "fashion-mnist"))
    ds = FashionMNIST(tmp_path / "data", train=False, download=True)
    assert len(ds) == 9
    assert sorted(p.name for p in (tmp_path / "data" / "FashionMNIST" / "raw").iterdir()) == sorted(blobs)
    FashionMNIST(tmp_path / "data", download=True)       # found now: nothing downloaded again
    assert len(server.requests) == 4


def test_download_failure_names_the_mirrors(tmp_path):
    with pytest.raises(DownloadError, match="could not download train-images-idx3-ubyte.gz for fashion-mnist; tried: http"):
        FashionMNIST(tmp_path, download=True)


def test_d2l_1_0s_data_module_call_says_what_to_use():
    with pytest.raises(ConfigError, match=r"FashionMNIST got unexpected arguments batch_size, resize: .*"
                                          r"use d2l.load_data_fashion_mnist\(batch_size, resize=None\)"):
        FashionMNIST(batch_size=256, resize=(32, 32))


@pytest.mark.parametrize("kwargs, match", [
    ({}, "The 'root' parameter must be a directory path. Got None."),
    ({"root": 256}, "The 'root' parameter must be a directory path. Got 256."),
    ({"root": ".", "transform": "ToTensor"}, "The 'transform' parameter must be callable or None. Got 'ToTensor'."),
    ({"root": ".", "target_transform": 3}, "The 'target_transform' parameter must be callable or None. Got 3."),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        FashionMNIST(**kwargs)
