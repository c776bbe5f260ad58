"""Fault: the files of a run directory are hand-edited or damaged (config.json, a re-signed checkpoint,
metrics.csv), a run is stopped before its first checkpoint, the disk is full at the lock, the
directory cannot be written, a run's data_dir points elsewhere, a user keeps files in the directory.

Expected: one line naming the file and the field, exit 2, for `train --resume`, `evaluate` and
`predict`, with the run directory unchanged; a run that never reached its first checkpoint leaves no
directory behind (or one that a new run or --resume takes over); reading a run writes nothing outside
it; only linnet's own temporary names are ever deleted.
"""
from __future__ import annotations

import errno
import json
import os
import shutil
import struct
from pathlib import Path

import pytest
import torch
from fault_tools import assert_one_line_error, cli, load_checkpoint, make_run, metrics_epochs, snapshot
from helpers_train import no_plots, write_idx_dataset  # noqa: F401

from linnet.runs import CHECKPOINT, LOCK, RunDir

EPOCHS = 2


@pytest.fixture(scope="module")
def base_run(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("base"), "base", epochs=EPOCHS)


@pytest.fixture
def run_dir(base_run, tmp_path) -> Path:
    return Path(shutil.copytree(base_run, tmp_path / "run"))


@pytest.fixture
def image(tmp_path) -> Path:
    from PIL import Image
    path = tmp_path / "digit.png"
    Image.new("L", (8, 8), 0).save(path)
    return path


def commands(run_dir, image) -> dict[str, list]:
    return {"train": ["train", "--resume", run_dir, "--epochs", 1, "--quiet", "--no-plots"],
            "evaluate": ["evaluate", run_dir], "predict": ["predict", run_dir, image]}


def assert_refused_by_each_command(run_dir, image, capsys, *needles, skip=()) -> None:
    before = snapshot(run_dir)
    for command, argv in commands(run_dir, image).items():
        if command in skip:
            continue
        rc, out, err = cli(argv, capsys)
        assert rc == 2, (command, err)
        assert_one_line_error(err, command, *needles)
        assert snapshot(run_dir) == before and not (run_dir / LOCK).exists()


# -- config.json ------------------------------------------------------------------------------

def _edit(section: str, key: str, value):
    def edit(doc):
        doc[section][key] = value
        return doc
    return edit


CONFIG_CASES = {
    "a-list": (lambda doc: [], "must be a JSON object, got list"),
    "dataset-null": (lambda doc: {**doc, "dataset": None}, "'dataset' must be an object, got null"),
    "settings-missing": (lambda doc: {"dataset": doc["dataset"]}, "'settings' must be an object, got null"),
    "lr-a-string": (_edit("settings", "lr", "0.1"), "setting 'lr' must be a number or null, got \"0.1\""),
    "epochs-true": (_edit("settings", "epochs", True), "setting 'epochs' must be an int or null, got true"),
    "model-a-number": (_edit("settings", "model", 5), "setting 'model' must be text, got 5"),
    "seed-negative": (_edit("settings", "seed", -1), "The 'seed' parameter must be an int in"),
    "unknown-setting": (_edit("settings", "colour", "red"), "unknown setting \"colour\""),
    "resize-three": (_edit("settings", "resize", [1, 2, 3]), "setting 'resize' must be"),
    "classes-a-string": (_edit("dataset", "classes", "0123"), "'dataset.classes' must be a list of class names"),
    "num-inputs-float": (_edit("dataset", "num_inputs", 1e11), "'dataset.num_inputs' must be an int >= 1"),
    "num-inputs-huge": (_edit("dataset", "num_inputs", 10**11), "weights, more than the 67108864 linnet allows in one model"),
    "input-hw-null-list": (_edit("dataset", "input_hw", [None, 8]), "'dataset.input_hw' must be null or [height, width]"),
    "channels-two": (_edit("dataset", "channels", 2), "'dataset.channels' must be null, 1 or 3"),
}


@pytest.mark.parametrize("case", CONFIG_CASES)
def test_an_edited_config_json_is_one_line_naming_it(run_dir, image, capsys, case):
    edit, says = CONFIG_CASES[case]
    path = run_dir / "config.json"
    path.write_text(json.dumps(edit(json.loads(path.read_text()))))
    # --resume sizes the model by the data it loads, not by config.json's num_inputs
    assert_refused_by_each_command(run_dir, image, capsys, str(path), says,
                                   skip=("train",) if case == "num-inputs-huge" else ())


@pytest.mark.parametrize("text", ["[" * 100_000, "{\"settings\": " * 50_000, "\xff\xfe not json", ""])
def test_a_config_json_that_is_not_json_is_one_line(run_dir, image, capsys, text):
    path = run_dir / "config.json"
    path.write_bytes(text.encode("latin-1"))
    assert_refused_by_each_command(run_dir, image, capsys, str(path), "not JSON")


# -- a checkpoint re-signed after an edit (the digest is not keyed: every field is still checked) ---

def resign(path: Path, metadata_edit=None, tensors_edit=None) -> None:
    """Rewrite the checkpoint with edited metadata / tensors and a digest that matches them again."""
    from safetensors.torch import load, save

    from linnet.runs import _digest
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    metadata = json.loads(data[8:8 + n])["__metadata__"]
    tensors = load(data)
    if tensors_edit:
        tensors_edit(tensors)
    blob = save(tensors, metadata={k: "" for k in metadata})
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    if metadata_edit:
        metadata_edit(metadata)
    metadata.pop("sha256", None)
    metadata["sha256"] = _digest(tensors, metadata)
    header["__metadata__"] = metadata
    new = json.dumps(header).encode()
    new += b" " * (-len(new) % 8)
    path.write_bytes(struct.pack("<Q", len(new)) + new + blob[8 + n:])


def _set(key, value):
    return lambda m: m.__setitem__(key, value)


RESIGNED = {
    "rng-float32": (None, lambda t: t.__setitem__("rng.torch", t["rng.torch"].float()), "the RNG state must be uint8"),
    "rng-short": (None, lambda t: t.__setitem__("rng.torch", t["rng.torch"][:8].clone()), "the RNG state must be uint8"),
    "rng-missing": (None, lambda t: t.pop("rng.torch"), "got missing"),
    "extra-tensor": (None, lambda t: t.__setitem__("other", torch.zeros(2)), "unexpected tensors ['other']"),
    "epoch-a-list": (_set("epoch", ["2"]), None, "damaged checkpoint ("),   # safetensors itself refuses it
    "epoch-negative": (_set("epoch", "-1"), None, "is not a count"),
    "meta-a-list": (_set("meta", "[]"), None, "meta must be an object"),
    "meta-model-list": (_set("meta", '{"model": ["softmax"], "impl": "fast"}'), None, "meta must be an object"),
    "meta-stats-text": (_set("meta", '{"model": "softmax", "impl": "fast", "stats": "x"}'), None, "'stats'"),
    "meta-deep": (_set("meta", "[" * 100_000), None, "checkpoint metadata is damaged or edited"),
    "digest-not-hex": (_set("metrics_sha256", "z" * 64), None, "metrics_sha256 is not a SHA-256 digest"),
    "unknown-field": (_set("history", "[]"), None, "checkpoint metadata is damaged or edited"),
}


@pytest.mark.parametrize("case", RESIGNED)
def test_a_resigned_checkpoint_is_still_validated(run_dir, image, capsys, case):
    metadata_edit, tensors_edit, says = RESIGNED[case]
    resign(run_dir / CHECKPOINT, metadata_edit, tensors_edit)
    assert_refused_by_each_command(run_dir, image, capsys, str(run_dir / CHECKPOINT), says)


def test_the_resign_helper_keeps_a_valid_checkpoint(run_dir, image, capsys):
    resign(run_dir / CHECKPOINT)  # control: re-signing without an edit changes nothing that matters
    rc, _, err = cli(["evaluate", run_dir], capsys)
    assert rc == 0, err


# -- metrics.csv: append-only, vouched for by the checkpoint -----------------------------------------

def test_a_row_missing_after_its_checkpoint_is_read_from_it_and_written_back_by_resume(run_dir, capsys):
    """As a process killed after writing epoch 2's checkpoint but before appending its row."""
    path = run_dir / "metrics.csv"
    path.write_text("".join(path.read_text().splitlines(keepends=True)[:-1]))
    before = snapshot(run_dir)
    rc, out, err = cli(["evaluate", run_dir], capsys)
    assert rc == 0 and f"({EPOCHS} epochs" in out, err
    assert snapshot(run_dir) == before                      # a reader never writes: a live run may own the file
    assert [r.epoch for r in load_checkpoint(run_dir)[1]] == list(range(1, EPOCHS + 1))
    rc, _, err = cli(["train", "--resume", run_dir, "--epochs", 1, "--quiet", "--no-plots"], capsys)
    assert rc == 0, err
    assert metrics_epochs(run_dir) == list(range(1, EPOCHS + 2))
    assert [r.epoch for r in load_checkpoint(run_dir)[1]] == list(range(1, EPOCHS + 2))


def _edit_row(run_dir) -> None:
    path = run_dir / "metrics.csv"
    lines = path.read_text().splitlines(keepends=True)
    cells = lines[1].split(",")
    cells[5] = "0.999"
    lines[1] = ",".join(cells)
    path.write_text("".join(lines))


METRICS_CASES = {
    "row-edited": (_edit_row, "are not those it was written with"),
    "first-row-removed": (lambda d: (d / "metrics.csv").write_text("".join(
        line for i, line in enumerate((d / "metrics.csv").read_text().splitlines(keepends=True)) if i != 1)),
        "are not those it was written with"),
    "all-rows-removed": (lambda d: (d / "metrics.csv").write_text((d / "metrics.csv").read_text().split("\n")[0] + "\n"),
                         f"checkpoint says epoch {EPOCHS} but its history has 0 epochs"),
    "deleted": (lambda d: (d / "metrics.csv").unlink(), "missing, but"),
    "header-edited": (lambda d: (d / "metrics.csv").write_text("a,b\n"), "the header is not"),
    "not-text": (lambda d: (d / "metrics.csv").write_bytes(b"\xff\xfe\x00"), "not text"),
}


@pytest.mark.parametrize("case", METRICS_CASES)
def test_a_damaged_metrics_csv_is_one_line(run_dir, image, capsys, case):
    damage, says = METRICS_CASES[case]
    damage(run_dir)
    assert_refused_by_each_command(run_dir, image, capsys, "metrics.csv", says)


# -- a run stopped before its first checkpoint is no run -------------------------------------------

def digits_argv(runs, name, *more) -> list:
    return ["train", "--dataset", "digits", "--epochs", 1, "--device", "cpu", "--quiet", "--no-plots",
            "--runs-dir", runs, "--name", name, *more]


def test_ctrl_c_between_config_json_and_the_first_checkpoint(tmp_path, capsys, monkeypatch, no_plots):
    real = RunDir.save_checkpoint

    def interrupted(self, state, history, meta):
        if not history:
            assert (self.path / "config.json").exists()
            raise KeyboardInterrupt
        return real(self, state, history, meta)

    monkeypatch.setattr(RunDir, "save_checkpoint", interrupted)
    rc, _, err = cli(digits_argv(tmp_path, "r"), capsys)
    assert rc == 130 and err == "linnet train: interrupted\n"
    assert list(tmp_path.iterdir()) == []                       # no half-made run directory
    monkeypatch.setattr(RunDir, "save_checkpoint", real)
    rc, _, err = cli(digits_argv(tmp_path, "r"), capsys)        # the name is free
    assert rc == 0, err


def unstarted_run(tmp_path, capsys, no_plots_dir="r") -> Path:
    """A run directory as `kill -9` leaves it between config.json and the first checkpoint."""
    rc, _, err = cli(digits_argv(tmp_path / "done", "r"), capsys)
    assert rc == 0, err
    run_dir = tmp_path / "runs" / no_plots_dir
    run_dir.mkdir(parents=True)
    shutil.copy(tmp_path / "done" / "r" / "config.json", run_dir)
    (run_dir / LOCK).write_text("999999999")                     # a dead holder
    (run_dir / ".config.json.0123456789ab.tmp").write_bytes(b"{")
    return run_dir


def test_a_new_run_takes_the_name_of_an_unstarted_one(tmp_path, capsys, no_plots):
    run_dir = unstarted_run(tmp_path, capsys)
    rc, _, err = cli(digits_argv(tmp_path / "runs", "r", "--epochs", 2), capsys)
    assert rc == 0, err
    assert metrics_epochs(run_dir) == [1, 2]


def test_resume_starts_an_unstarted_run_over(tmp_path, capsys, no_plots):
    run_dir = unstarted_run(tmp_path, capsys)
    rc, _, err = cli(["train", "--resume", run_dir, "--epochs", 2, "--quiet"], capsys)
    assert rc == 0, err
    assert metrics_epochs(run_dir) == [1, 2] and load_checkpoint(run_dir)[1][-1].epoch == 2


def test_a_directory_with_files_of_the_user_is_not_taken(tmp_path, capsys, no_plots):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "notes.txt").write_text("mine")
    rc, _, err = cli(digits_argv(tmp_path, "r"), capsys)
    assert rc == 2
    assert_one_line_error(err, "train", "already exists")
    assert (tmp_path / "r" / "notes.txt").read_text() == "mine"


def test_a_full_disk_at_the_lock_file(tmp_path, capsys, monkeypatch, no_plots):
    from linnet import runlock
    real = os.pwrite

    def full(fd, data, offset):  # the lock's pid is the only pwrite (atomic writes go through files)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(runlock.os, "pwrite", full)
    rc, _, err = cli(digits_argv(tmp_path, "r"), capsys)
    assert rc == 2
    assert_one_line_error(err, "train", str(tmp_path / "r" / LOCK), "No space left on device")
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setattr(runlock.os, "pwrite", real)
    rc, _, err = cli(digits_argv(tmp_path, "r"), capsys)
    assert rc == 0, err


def test_settings_are_validated_before_the_run_directory_exists(tmp_path, capsys):
    rc, _, err = cli(digits_argv(tmp_path, "r", "--seed", 2**45), capsys)
    assert rc == 2
    assert_one_line_error(err, "train", "The --seed option must be an int in [0, 4294967295]")
    assert list(tmp_path.iterdir()) == []


# -- the directory cannot be written ----------------------------------------------------------

def test_resuming_a_run_directory_that_cannot_be_written(run_dir, capsys, monkeypatch):
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if Path(p) == run_dir else real(p, mode, **kw))
    before = snapshot(run_dir)
    rc, _, err = cli(["train", "--resume", run_dir, "--epochs", 1, "--quiet", "--no-plots"], capsys)
    assert rc == 2
    assert_one_line_error(err, "train", f"run directory {run_dir} cannot be written")
    assert snapshot(run_dir) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a mode-555 directory")
def test_resuming_a_mode_555_run_directory(run_dir, capsys):
    run_dir.chmod(0o555)
    try:
        rc, _, err = cli(["train", "--resume", run_dir, "--epochs", 1, "--quiet", "--no-plots"], capsys)
    finally:
        run_dir.chmod(0o755)
    assert rc == 2
    assert_one_line_error(err, "train", f"run directory {run_dir} cannot be written")


# -- security: reading a run writes nothing outside it; only linnet's temporary names are deleted --

def test_evaluate_never_creates_or_downloads_where_config_json_points(tmp_path, capsys):
    data = tmp_path / "idx"
    write_idx_dataset(data, n_train=60, n_test=20)
    run_dir = make_run(tmp_path / "runs", "f", dataset="fashion-mnist", data_dir=str(data), epochs=1)
    elsewhere = tmp_path / "elsewhere" / "deep"
    doc = json.loads((run_dir / "config.json").read_text())
    doc["settings"]["data_dir"] = str(elsewhere)
    (run_dir / "config.json").write_text(json.dumps(doc))
    rc, _, err = cli(["evaluate", run_dir], capsys)
    assert rc == 2
    assert_one_line_error(err, "evaluate", str(elsewhere), "is missing (downloads are off)")
    assert not (tmp_path / "elsewhere").exists()
    rc, out, err = cli(["evaluate", run_dir, "--data-dir", data], capsys)   # control: the data where it is
    assert rc == 0 and "test acc" in out, err


def test_resume_deletes_only_linnet_temporary_files(run_dir, capsys, no_plots):
    mine = [".notes.tmp", ".checkpoint.safetensors.tmp", ".a.0123456789ab.tmp.bak", ".x.XYZ456789abc.tmp"]
    for name in mine:
        (run_dir / name).write_text("user's")
    ours = run_dir / ".checkpoint.safetensors.0123456789ab.tmp"
    ours.write_bytes(b"half a checkpoint")
    rc, _, err = cli(["train", "--resume", run_dir, "--epochs", 1, "--quiet"], capsys)
    assert rc == 0, err
    assert not ours.exists()
    assert all((run_dir / name).read_text() == "user's" for name in mine)
