"""Fault: `linnet predict` given files that are not usable images, among good ones.

Expected: one clear line on stderr per bad file (naming it), every good file still predicted on
stdout in the order given, exit code 2 (0 when all are good); never a traceback.
"""
from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest
from fault_tools import cli, make_run
from PIL import Image


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("predict"), "digits")


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_claiming(width: int, height: int) -> bytes:
    """A small PNG whose header claims width x height 1-bit pixels (a decompression bomb's shape)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + png_chunk(b"IEND", b""))


def good_image(path: Path, size=(30, 20), fmt=None) -> Path:
    im = Image.new("L", size, 0)
    im.paste(255, (10, 5, 20, 15))
    im.save(path, format=fmt)
    return path


def bad_files(d: Path) -> dict[str, tuple[Path, str]]:
    """name -> (path, what its error line must say)."""
    d.mkdir(exist_ok=True)
    (d / "notes.txt").write_text("not an image\n")
    (d / "empty.png").write_bytes(b"")
    (d / "folder.png").mkdir()
    (d / "huge.png").write_bytes(png_claiming(7000, 7000))      # 49 Mpx > linnet's 40, < Pillow's own limit
    (d / "bomb.png").write_bytes(png_claiming(20000, 20000))    # 400 Mpx: Pillow refuses it itself
    good_image(d / "whole.png", (64, 64))
    (d / "cut.png").write_bytes((d / "whole.png").read_bytes()[:60])
    (d / "whole.png").unlink()
    return {
        "non-image": (d / "notes.txt", "not an image file linnet can read (PNG, JPEG, ...)"),
        "empty": (d / "empty.png", "is empty"),
        "directory": (d / "folder.png", "the directory holds no image files"),
        "huge": (d / "huge.png", "7000x7000 pixels is larger than the 40 megapixels linnet accepts"),
        "bomb": (d / "bomb.png", "cannot be read as an image"),
        "truncated": (d / "cut.png", "cannot be read as an image"),
        "missing": (d / "nothere.png", "cannot be read as an image"),
    }


def predicted(out: str) -> list[str]:
    """The paths of the stdout lines 'PATH: class p, class p, class p'."""
    lines = out.splitlines()
    for line in lines:
        assert line.count(", ") == 2, line
    return [line.rsplit(": ", 1)[0] for line in lines]


def assert_error_lines(err: str, expected: list[tuple[Path, str]]) -> None:
    assert "Traceback" not in err and "Warning" not in err, err
    lines = err.splitlines()
    assert len(lines) == len(expected), err
    for line, (path, problem) in zip(lines, expected):
        assert line.startswith(f"linnet predict: error: {path}: ") and problem in line, line


def test_every_bad_file_gets_its_line_and_the_good_ones_are_still_predicted(run_dir, tmp_path, capsys):
    bad = bad_files(tmp_path / "bad")
    good = [good_image(tmp_path / "a.png"), good_image(tmp_path / "b.jpg", (200, 90)),
            good_image(tmp_path / "c.bmp", (8, 8))]
    # interleave: good, bad, bad, good, bad, ... to show one failure never stops the others
    order = [good[0], *[p for p, _ in list(bad.values())[:4]], good[1], *[p for p, _ in list(bad.values())[4:]],
             good[2]]
    rc, out, err = cli(["predict", run_dir, *order], capsys)
    assert rc == 2
    assert predicted(out) == [str(p) for p in good]
    assert_error_lines(err, list(bad.values()))


@pytest.mark.parametrize("case", ["non-image", "empty", "directory", "huge", "bomb", "truncated", "missing"])
def test_each_bad_file_alone(run_dir, tmp_path, capsys, case):
    path, problem = bad_files(tmp_path / "bad")[case]
    rc, out, err = cli(["predict", run_dir, path], capsys)
    assert rc == 2 and out == ""
    assert_error_lines(err, [(path, problem)])


def test_a_huge_image_is_refused_before_decoding(run_dir, tmp_path, capsys, monkeypatch):
    """With a lower limit, an ordinary 100x100 image is 'huge': refused by size, next file predicted."""
    import linnet.images
    monkeypatch.setattr(linnet.images, "MAX_PIXELS", 5000)
    decoded = []
    real = Image.Image.convert
    monkeypatch.setattr(Image.Image, "convert", lambda self, *a, **k: decoded.append(self.size) or real(self, *a, **k))
    big, small = good_image(tmp_path / "big.png", (100, 100)), good_image(tmp_path / "small.png", (50, 50))
    rc, out, err = cli(["predict", run_dir, big, small], capsys)
    assert rc == 2
    assert_error_lines(err, [(big, "100x100 pixels is larger than")])
    assert predicted(out) == [str(small)]
    assert (100, 100) not in decoded  # never decoded: refused on the header's size


def test_all_good_files_exit_0(run_dir, tmp_path, capsys):
    """The control: the same good files alone give exit code 0 and nothing on stderr."""
    good = [good_image(tmp_path / "a.png"), good_image(tmp_path / "b.jpg", (200, 90))]
    rc, out, err = cli(["predict", run_dir, *good], capsys)
    assert rc == 0 and err == ""
    assert predicted(out) == [str(p) for p in good]
