"""`linnet data`: describe a dataset, time one pass, save a grid; user errors end in exit code 2."""
from __future__ import annotations

import re

import pytest

from conftest import write_fake_dataset
from linnet.cli import main

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_data_command_on_a_data_dir(tmp_path, capsys):
    write_fake_dataset(tmp_path / "data", 50, 20)
    png = tmp_path / "out" / "grid.png"
    code = main(["data", "--dataset", "fashion-mnist", "--data-dir", str(tmp_path / "data"), "--grid", str(png)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert re.search(r"^dataset\s+fashion-mnist$", out, re.M)
    assert re.search(r"^train\s+50 images$", out, re.M)
    assert re.search(r"^test\s+20 images$", out, re.M)
    assert re.search(r"^image shape\s+1x28x28 \(float32 in \[0, 1\]\)$", out, re.M)
    # class counts: train labels are i % 10 over 50 -> 5 each; test (i + 3) % 10 over 20 -> 2 each
    assert re.search(r"^\s+0\s+T-shirt/top\s+5\s+2$", out, re.M)
    assert re.search(r"^\s+9\s+Ankle boot\s+5\s+2$", out, re.M)
    assert len(re.findall(r"^\s+\d\s+\S.*\s+5\s+2$", out, re.M)) == 10
    m = re.search(r"^one pass\s+1 minibatches of 256 in (\d+\.\d{3}) s$", out, re.M)
    assert m and float(m.group(1)) >= 0
    assert f"grid         {png}" in out
    data = png.read_bytes()
    assert data[:8] == PNG_SIGNATURE and len(data) > 100
    assert [p.name for p in png.parent.iterdir()] == ["grid.png"]  # written atomically, no temp left


def test_data_command_resize_and_batch_size(tmp_path, capsys):
    write_fake_dataset(tmp_path, 50, 20, gz=False)
    code = main(["data", "--dataset", "mnist", "--data-dir", str(tmp_path), "--resize", "32", "--batch-size", "16"])
    out, _ = capsys.readouterr()
    assert code == 0
    assert re.search(r"^image shape\s+1x32x32 ", out, re.M)
    assert re.search(r"^one pass\s+4 minibatches of 16 in \d+\.\d{3} s$", out, re.M)
    assert re.search(r"^\s+7\s+7\s+5\s+2$", out, re.M)


def test_digits_offline(tmp_path, capsys):
    png = tmp_path / "digits.png"
    assert main(["data", "--dataset", "digits", "--grid", str(png)]) == 0
    out, _ = capsys.readouterr()
    assert re.search(r"^train\s+1437 images$", out, re.M)
    assert re.search(r"^test\s+360 images$", out, re.M)
    assert re.search(r"^image shape\s+1x8x8 ", out, re.M)
    assert re.search(r"^one pass\s+6 minibatches of 256 in \d+\.\d{3} s$", out, re.M)
    assert png.read_bytes()[:8] == PNG_SIGNATURE


def test_bad_idx_file_exit_2_one_line(tmp_path, capsys):
    write_fake_dataset(tmp_path, 50, 20)
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x05\x01\x02")
    code = main(["data", "--dataset", "fashion-mnist", "--data-dir", str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert err == ("linnet data: error: train-labels-idx1-ubyte.gz: is named .gz but is not gzip-compressed "
                   "(no gzip magic bytes)\n")
    assert "Traceback" not in err


def test_inconsistent_dataset_exit_2(tmp_path, capsys):
    arrays = write_fake_dataset(tmp_path, 50, 20)
    from linnet.data.idx import write_idx
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", arrays["test_labels"][:19])
    assert main(["data", "--dataset", "fashion-mnist", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert re.fullmatch(r"linnet data: error: t10k-images-idx3-ubyte\.gz / t10k-labels-idx1-ubyte\.gz: "
                        r"20 images but 19 labels; the counts must agree\n", err)


def test_unknown_dataset_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["data", "--dataset", "cifar"])
    assert info.value.code == 2
    assert re.search(r"argument --dataset: invalid choice: 'cifar'", capsys.readouterr().err)


@pytest.mark.parametrize("flag,value,name", [("--batch-size", "0", "batch_size"), ("--batch-size", "-4", "batch_size"),
                                             ("--resize", "0", "resize")])
def test_out_of_range_setting_exit_2(tmp_path, capsys, flag, value, name):
    write_fake_dataset(tmp_path, 50, 20)
    code = main(["data", "--dataset", "fashion-mnist", "--data-dir", str(tmp_path), flag, value])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err == f"linnet data: error: The {flag} option must be an int >= 1. Got {value}.\n"


def test_non_integer_batch_size_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["data", "--dataset", "digits", "--batch-size", "2.5"])
    assert info.value.code == 2
    assert "argument --batch-size: invalid int value: '2.5'" in capsys.readouterr().err


def test_data_without_a_grid_imports_neither_matplotlib_nor_scikit_learn(tmp_path):
    import subprocess
    import sys
    write_fake_dataset(tmp_path / "data", 30, 10)
    script = ("import sys, linnet.cli as c\n"
              f"code = c.main(['data', '--dataset', 'mnist', '--data-dir', {str(tmp_path / 'data')!r}])\n"
              "print(code, sorted(m for m in ('matplotlib', 'sklearn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "0 []", out.stdout + out.stderr


def test_data_command_on_your_own_data(tmp_path, capsys):
    from helpers_train import is_png
    from helpers_userdata import table_columns, write_folder, write_table
    root = write_folder(tmp_path / "pets", colour=True)
    assert main(["data", "--data", str(root), "--channels", "3", "--resize", "12",
                 "--grid", str(tmp_path / "grid.png")]) == 0
    out, err = capsys.readouterr()
    assert "image shape  3x12x12" in out and "train        28 images" in out and is_png(tmp_path / "grid.png")
    assert "note: resized 36 of 36 images to 12x12" in err
    cols = table_columns()
    del cols["price"]
    assert main(["data", "--data", str(write_table(tmp_path / "shop.csv", cols))]) == 0
    out, _ = capsys.readouterr()
    assert "features     4 (standardised" in out and re.search(r"\d+  medium +\d+ +\d+", out)


def test_data_command_refuses_a_dataset_and_data(tmp_path, capsys):
    assert main(["data", "--data", str(tmp_path), "--dataset", "mnist"]) == 2
    assert "Give --dataset or --data, not both" in capsys.readouterr().err
