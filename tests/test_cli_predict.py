"""`linnet predict`: a directory of images, --top-k, --json (single files: test_cli_train.py)."""
import json

import pytest
from helpers_train import run_cli, small_digits_run, write_png  # noqa: F401


def test_a_directory_means_its_images_sorted_by_name(small_digits_run, tmp_path, capsys):
    d = tmp_path / "imgs"
    d.mkdir()
    for name in ("b.png", "a.PNG", "c.jpg.txt", "notes.txt"):
        (write_png(d / name) if name.lower().endswith(".png") else (d / name).write_text("x"))
    (d / "sub").mkdir()
    write_png(d / "sub" / "deep.png")                                   # not searched: one level only
    single = write_png(tmp_path / "z.png")
    rc, out, err = run_cli(["predict", small_digits_run, d, single], capsys)
    assert rc == 0 and err == ""
    assert [line.split(": ")[0] for line in out.splitlines()] == [str(d / "a.PNG"), str(d / "b.png"), str(single)]


def test_top_k_shows_that_many_classes_and_at_most_all(small_digits_run, tmp_path, capsys):
    png = write_png(tmp_path / "a.png")
    rc, out, _ = run_cli(["predict", small_digits_run, png, "--top-k", "5"], capsys)
    assert rc == 0 and len(out.split(": ", 1)[1].split(", ")) == 5
    rc, out, _ = run_cli(["predict", small_digits_run, png, "--top-k", "50"], capsys)
    probs = [float(part.split()[1]) for part in out.strip().split(": ", 1)[1].split(", ")]
    assert rc == 0 and len(probs) == 10 and sum(probs) == pytest.approx(1.0, abs=6e-3)


def test_json_has_one_object_per_input_and_errors_in_place(small_digits_run, tmp_path, capsys):
    png = write_png(tmp_path / "a.png")
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image")
    rc, out, err = run_cli(["predict", small_digits_run, png, junk, "--json", "--top-k", "2"], capsys)
    assert rc == 2 and err == ""                                         # the error is in the JSON, exit 2 as before
    good, bad = json.loads(out)
    assert good["input"] == str(png) and [set(t) for t in good["top"]] == [{"class", "prob"}] * 2
    assert good["top"][0]["prob"] >= good["top"][1]["prob"]
    assert bad["input"] == str(junk) and str(junk) in bad["error"] and "top" not in bad


def test_an_empty_directory_and_a_bad_top_k_are_one_line_errors(small_digits_run, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    rc, out, err = run_cli(["predict", small_digits_run, tmp_path / "empty"], capsys)
    assert rc == 2 and out == "" and err.startswith(f"linnet predict: error: {tmp_path / 'empty'}: the directory holds no image files")
    assert err.count("\n") == 1
    rc, _, err = run_cli(["predict", small_digits_run, tmp_path / "empty", "--top-k", "-1"], capsys)
    assert rc == 2 and err == "linnet predict: error: The --top-k option must be an int >= 1. Got -1.\n"
