import json
import os
import pathlib
import pickle
import signal
import subprocess
import sys
import textwrap

import pytest
import torch
from helpers_train import rewrite_checkpoint_metadata

from linnet import runs
from linnet.errors import ConfigError
from linnet.runs import CHECKPOINT, LOCK, CheckpointError, RunBusy, RunDir
from linnet.train import EpochRecord

SRC = str(pathlib.Path(__file__).resolve().parents[1] / "src")


def records(n):
    return [EpochRecord(e, 0.1 * 0.9 ** (e - 1), 1.0 / e, 0.5 + e / 100, 1.1 / e, 0.4 + e / 100, 0.25)
            for e in range(1, n + 1)]


def state():
    g = torch.Generator().manual_seed(0)
    return {"W": torch.randn(6, 3, generator=g), "b": torch.randn(3, generator=g)}


@pytest.fixture
def run(tmp_path):
    r = RunDir.create(tmp_path / "runs", "exp")
    r.write_json("config.json", {"settings": {"dataset": "digits"},
                                 "dataset": {"name": "digits", "classes": list("abc"), "num_inputs": 6}})
    return r


@pytest.fixture
def saved(run):
    """A run with a 2-epoch checkpoint; returns (run, checkpoint path)."""
    run.save_checkpoint(state(), records(2), {"model": "softmax", "impl": "fast"})
    return run, run.path / CHECKPOINT


# -- create / open -------------------------------------------------------------------------------

def test_create_makes_the_directory(tmp_path):
    r = RunDir.create(tmp_path / "runs" / "nested", "first")
    assert r.path == tmp_path / "runs" / "nested" / "first" and r.path.is_dir()


def test_create_refuses_an_existing_name_and_suggests_resume(tmp_path):
    existing = RunDir.create(tmp_path, "exp")
    (existing.path / "keep.txt").write_text("mine")
    with pytest.raises(ConfigError, match=r"already exists; resume it with --resume .*exp") as info:
        RunDir.create(tmp_path, "exp")
    assert str(tmp_path / "exp") in str(info.value)
    assert (existing.path / "keep.txt").read_text() == "mine"


def test_open_refuses_a_missing_directory(tmp_path):
    with pytest.raises(ConfigError, match=r"run directory .*nowhere does not exist"):
        RunDir.open(tmp_path / "nowhere")


def test_open_refuses_a_directory_that_is_not_a_run(tmp_path):
    (tmp_path / "plain").mkdir()
    with pytest.raises(ConfigError, match=r"plain is not a linnet run directory \(no config.json\)"):
        RunDir.open(tmp_path / "plain")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="does not exist"):
        RunDir.open(tmp_path / "file")


def test_open_accepts_a_run(run):
    assert RunDir.open(run.path).path == run.path


def test_json_and_metrics_files(run):
    run.write_json("summary.json", {"b": 1, "a": [1.5, None]})
    assert run.read_json("summary.json") == {"a": [1.5, None], "b": 1}
    (run.path / "bad.json").write_text("{not json")
    with pytest.raises(ConfigError, match=r"bad.json: cannot be read as JSON"):
        run.read_json("bad.json")
    history = records(3) + [EpochRecord(4, 0.03, 0.5, None, 0.4, None, 0.1)]
    run.write_metrics(history)
    lines = (run.path / "metrics.csv").read_text().splitlines()
    assert lines[0] == "epoch,lr,train_loss,train_acc,test_loss,test_acc,seconds"
    assert len(lines) == 5 and lines[1].startswith("1,0.1,1.0,")
    assert lines[4] == "4,0.03,0.5,,0.4,,0.1"          # regression: no accuracies, empty cells


# -- lock ------------------------------------------------------------------------------------------

HOLDER = textwrap.dedent("""
    import sys
    sys.path.insert(0, sys.argv[2])
    from linnet.runs import RunDir
    with RunDir(sys.argv[1]):
        print("locked", flush=True)
        sys.stdin.read()
""")


def test_lock_is_taken_and_released(run):
    with run:
        assert (run.path / LOCK).read_text() == str(os.getpid())
    assert not (run.path / LOCK).exists()


def test_lock_held_by_a_live_process_raises_run_busy_then_a_killed_holder_is_taken_over(run):
    with subprocess.Popen([sys.executable, "-c", HOLDER, str(run.path), SRC], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True) as holder:
        try:
            assert holder.stdout.readline().strip() == "locked"
            with pytest.raises(RunBusy, match=rf"in use by another linnet process \(pid {holder.pid}\)"):
                with run:
                    pytest.fail("entered a run directory another live process holds")
            assert (run.path / LOCK).read_text() == str(holder.pid)    # the holder's lock is left alone
        finally:
            holder.send_signal(signal.SIGKILL)   # killed: no chance to remove its lock
            holder.wait(timeout=10)
    assert (run.path / LOCK).read_text() == str(holder.pid)        # a stale lock remains
    with run:
        assert (run.path / LOCK).read_text() == str(os.getpid())
    assert not (run.path / LOCK).exists()


@pytest.mark.parametrize("content", ["dead-pid", "", "garbage"])
def test_a_stale_lock_is_taken_over(run, content):
    if content == "dead-pid":
        finished = subprocess.Popen([sys.executable, "-c", "pass"])
        assert finished.wait(timeout=30) == 0    # exited and reaped: its pid belongs to no process now
        content = str(finished.pid)
    (run.path / LOCK).write_text(content)
    with run:
        assert (run.path / LOCK).read_text() == str(os.getpid())
    assert not (run.path / LOCK).exists()


# -- checkpoint ---------------------------------------------------------------------------------

def test_checkpoint_round_trip(saved):
    run, path = saved
    loaded_state, history, meta = run.load_checkpoint()
    assert set(loaded_state) == {"W", "b"}
    for k, v in state().items():
        assert torch.equal(loaded_state[k], v)
    assert history == records(2)
    assert meta["model"] == "softmax" and meta["impl"] == "fast"
    assert not any(p.name.endswith(".tmp") for p in run.path.iterdir())   # no temporary left behind


def test_checkpoint_restores_the_rng_state(run):
    torch.manual_seed(123)
    run.save_checkpoint(state(), records(1), {})
    expected = torch.rand(4)
    torch.manual_seed(999)
    _, _, meta = run.load_checkpoint()
    torch.set_rng_state(meta["rng_state"])
    assert torch.equal(torch.rand(4), expected)


def test_checkpoint_with_an_empty_history(run):
    run.save_checkpoint(state(), [], {"model": "softmax"})
    _, history, meta = run.load_checkpoint()
    assert history == [] and meta["model"] == "softmax"


def test_checkpoint_is_replaced_atomically(saved):
    run, path = saved
    run.save_checkpoint(state(), records(3), {})
    _, history, _ = run.load_checkpoint()
    assert len(history) == 3
    assert [p.name for p in run.path.iterdir() if p.name.startswith(".")] == []


def test_missing_checkpoint(run):
    with pytest.raises(CheckpointError, match=rf"{CHECKPOINT}: no checkpoint to resume from"):
        run.load_checkpoint()


def _assert_refused(run, path, match):
    before, mtime = path.read_bytes(), path.stat().st_mtime_ns
    with pytest.raises(CheckpointError, match=match) as info:
        run.load_checkpoint()
    assert str(path) in str(info.value)
    assert path.read_bytes() == before and path.stat().st_mtime_ns == mtime   # the failed load changed nothing
    return info.value


@pytest.mark.parametrize("keep, match", [
    (0, r"truncated checkpoint \(0 bytes\)"),
    (5, r"truncated checkpoint \(5 bytes\)"),
    (40, r"truncated checkpoint \(header of \d+ bytes, file has 40\)"),
    (-7, r"damaged checkpoint"),                 # header whole, last tensor bytes missing
])
def test_truncated_checkpoint_is_refused(saved, keep, match):
    run, path = saved
    data = path.read_bytes()
    path.write_bytes(data[:keep])
    _assert_refused(run, path, match)


def test_garbage_bytes_are_refused(saved):
    run, path = saved
    path.write_bytes(os.urandom(4096))
    _assert_refused(run, path, r"truncated checkpoint")
    path.write_bytes((16).to_bytes(8, "little") + b"this is no JSON!" + b"\0" * 64)
    _assert_refused(run, path, r"damaged checkpoint header")
    path.write_bytes((2).to_bytes(8, "little") + b"[]")
    _assert_refused(run, path, r"not a linnet checkpoint \(no metadata\)")


def test_wrong_format_string_is_refused(saved):
    run, path = saved
    rewrite_checkpoint_metadata(path, format="linnet-checkpoint/999")
    _assert_refused(run, path, r"not a linnet checkpoint \(format 'linnet-checkpoint/999', "
                               r"expected 'linnet-checkpoint/1'\)")


def test_safetensors_file_of_someone_else_is_refused(run):
    from safetensors.torch import save_file
    path = run.path / CHECKPOINT
    save_file({"weight": torch.zeros(2, 2)}, str(path), metadata={"format": "pt"})
    _assert_refused(run, path, r"not a linnet checkpoint \(format 'pt'")


@pytest.mark.parametrize("changes, match", [
    ({"epoch": "5"}, r"checkpoint says epoch 5 but its history has 2 epochs; it was edited"),
    ({"epoch": "two"}, r"checkpoint metadata is damaged or edited"),
    ({"history": "[{\"epoch\": 1}]"}, r"checkpoint metadata is damaged or edited"),
    ({"history": "not json"}, r"checkpoint metadata is damaged or edited"),
    ({"meta": "{oops"}, r"checkpoint metadata is damaged or edited"),
])
def test_edited_metadata_is_refused(saved, changes, match):
    run, path = saved
    rewrite_checkpoint_metadata(path, **changes)
    _assert_refused(run, path, match)


def test_a_history_in_the_checkpoint_is_refused(saved):
    """The history lives in metrics.csv (linnet.metricslog); a checkpoint field beyond linnet's is an edit."""
    run, path = saved
    rewrite_checkpoint_metadata(path, history=json.dumps([r.as_dict() for r in records(2)]))
    _assert_refused(run, path, r"checkpoint metadata is damaged or edited \(fields \['epoch', 'format', 'history'")


def test_save_appends_one_row_per_epoch(run):
    """O(1) an epoch: a save after epoch n appends row n; rows before it are not rewritten."""
    run.save_checkpoint(state(), records(1), {})
    first = (run.path / "metrics.csv").stat().st_ino
    run.save_checkpoint(state(), records(2), {})
    assert (run.path / "metrics.csv").stat().st_ino == first      # the same file, appended to, not replaced
    assert run.load_checkpoint()[1] == records(2)


def test_edited_metadata_helper_keeps_a_valid_file(saved):
    """Guard for the tests above: an edit that changes nothing leaves a loadable checkpoint."""
    run, path = saved
    rewrite_checkpoint_metadata(path, epoch="2")
    _, history, _ = run.load_checkpoint()
    assert len(history) == 2


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_weights_are_refused(run, bad):
    s = state()
    s["W"][2, 1] = bad
    run.save_checkpoint(s, records(1), {})
    _assert_refused(run, run.path / CHECKPOINT, r"weights 'W' contain NaN or Inf")


# -- a checkpoint that would run code ----------------------------------------------------------

class Payload:
    """Unpickling this creates `marker` (an ordinary file: proof that code ran)."""

    def __init__(self, marker):
        self.marker = pathlib.Path(marker)

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def test_the_payload_really_runs_code_when_unpickled(tmp_path):
    """Guard: the payload of the next tests is live, so their 'marker absent' means something."""
    marker = tmp_path / "control-marker"
    pickle.loads(pickle.dumps(Payload(marker)))
    assert marker.exists()


@pytest.mark.parametrize("writer", ["torch.save", "pickle"])
def test_a_pickle_checkpoint_is_refused_and_nothing_executes(run, tmp_path, writer):
    marker = tmp_path / "pwned"
    path = run.path / CHECKPOINT
    payload = {"model.W": Payload(marker), "model.b": torch.zeros(3)}
    if writer == "torch.save":
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload, protocol=2))
    _assert_refused(run, path, r"checkpoint")
    assert not marker.exists()


def test_a_pickle_checkpoint_is_refused_by_the_cli(run, tmp_path, capsys):
    from helpers_train import run_cli
    marker = tmp_path / "pwned"
    torch.save({"model.W": Payload(marker)}, run.path / CHECKPOINT)
    for argv in (["evaluate", run.path], ["predict", run.path, tmp_path / "x.png"],
                 ["train", "--resume", run.path, "--epochs", "1", "--quiet"]):
        rc, out, err = run_cli(argv, capsys)
        assert rc == 2, argv
        assert err.startswith("linnet ") and "Traceback" not in err
        assert str(run.path / CHECKPOINT) in err
    assert not marker.exists()


def test_create_under_a_runs_dir_that_is_a_file(tmp_path):
    (tmp_path / "runs").write_text("not a directory")
    with pytest.raises(ConfigError, match=r"cannot create the runs directory .*runs: ") as info:
        RunDir.create(tmp_path / "runs", "exp")
    assert "--resume" not in str(info.value)
    assert (tmp_path / "runs").read_text() == "not a directory"


def test_a_second_run_of_a_live_name_is_told_it_is_busy_not_to_resume(tmp_path):
    import subprocess
    import sys
    run = RunDir.create(tmp_path, "live")
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(run.path), SRC], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)   # a live process holding the run's lock
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(ConfigError, match=rf"live is being written by another linnet process \(pid {holder.pid}\); "
                                              r"pick another --name"):
            RunDir.create(tmp_path, "live")
    finally:
        holder.kill()
        holder.communicate()
    assert RunDir.create(tmp_path, "live").path == run.path   # holder gone before a first checkpoint: no run yet
    run.save_checkpoint(state(), [], {})
    with pytest.raises(ConfigError, match=r"already exists; resume it with --resume"):  # a run: never taken
        RunDir.create(tmp_path, "live")


def test_taking_the_lock_clears_leftovers_of_a_killed_write(tmp_path):
    run = RunDir.create(tmp_path, "left")
    leftover = run.path / ".checkpoint.safetensors.0123456789ab.tmp"
    leftover.write_bytes(b"half a checkpoint")
    keep = run.path / "curves.png"
    keep.write_bytes(b"kept")
    with run:
        pass
    assert not leftover.exists() and keep.read_bytes() == b"kept"


# -- checkpoint header, read before the file ------------------------------------------------------

def _with_header(path, header: bytes, body: bytes = b"") -> None:
    path.write_bytes(len(header).to_bytes(8, "little") + header + body)


def test_a_file_larger_than_its_header_declares_is_refused_unread(saved):
    run, path = saved
    size = path.stat().st_size
    os.truncate(path, 64 << 20)    # sparse zeros after it (tests/faults/test_memory_bounds.py: 4 GiB, capped)
    _assert_refused(run, path, rf"damaged checkpoint \(its header declares {size} bytes, the file has {64 << 20}\)")


def test_a_header_declaring_more_than_any_checkpoint_is_refused(saved, monkeypatch):
    run, path = saved
    monkeypatch.setattr(runs, "MAX_CHECKPOINT_BYTES", 4096)   # the real limit is ~600 MB: too slow to write here
    header = json.dumps({"__metadata__": {"format": "x"},
                         "model.W": {"dtype": "F64", "shape": [1024], "data_offsets": [0, 8192]}}).encode()
    _with_header(path, header, bytes(8192))
    _assert_refused(run, path, r"larger than any linnet checkpoint \(4096 at most")


@pytest.mark.parametrize("header, match", [
    (b"[" * 50_000 + b"]" * 50_000, r"damaged checkpoint header \(RecursionError"),
    (b'{"__metadata__": {}, "t": {"dtype": "F32"}}', r"damaged checkpoint header \(a tensor without data offsets"),
    (b'{"__metadata__": {}, "t": {"data_offsets": [0, -4]}}', r"a tensor's offsets are not byte counts"),
    (b'{"__metadata__": {}, "t": {"data_offsets": [0, "4"]}}', r"a tensor's offsets are not byte counts"),
])
def test_a_malformed_header_is_one_error(saved, header, match):
    run, path = saved
    _with_header(path, header)
    _assert_refused(run, path, match)


def test_a_header_length_beyond_safetensors_limit_is_refused(saved):
    run, path = saved
    path.write_bytes((100_000_001).to_bytes(8, "little") + b"{" + b" " * 64)
    os.truncate(path, 100_000_100)
    _assert_refused(run, path, r"damaged checkpoint header \(100000001 bytes, more than the 100000000 safetensors allows\)")


def test_deeply_nested_metadata_json_is_one_error(saved):
    run, path = saved
    from safetensors.torch import save
    tensors = {"model.W": torch.zeros(2, 2)}
    path.write_bytes(save(tensors, metadata={"format": "linnet-checkpoint/1", "epoch": "0", "last": "",
                                             "metrics_sha256": "0" * 64, "sha256": "0" * 64,
                                             "meta": "[" * 50_000 + "]" * 50_000}))
    _assert_refused(run, path, r"checkpoint metadata is damaged or edited \(maximum recursion depth")
