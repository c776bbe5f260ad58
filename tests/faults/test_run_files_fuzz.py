"""Fuzz: config.json and checkpoint parsing with hypothesis. Whatever the bytes or the (re-signed)
values, reading a run ends in a valid result or one of linnet's errors, never another exception.

A few hundred cases in the normal suite; `-m slow` runs many more.
"""
from __future__ import annotations

import json
import shutil
import struct

import pytest
from fault_tools import make_run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from linnet.errors import LinnetError
from linnet.runs import CHECKPOINT, RunDir
from linnet.runschema import SETTINGS, parse_run_config

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
SLOW = settings(max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

scalars = st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=12)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)


@pytest.fixture(scope="module")
def base_run(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("fuzz"), "base", epochs=2)


@pytest.fixture(scope="module")
def good_config(base_run) -> dict:
    return json.loads((base_run / "config.json").read_text())


def _config_edit(doc: dict, section: str, key: str, value):
    doc = json.loads(json.dumps(doc))
    if section == "top":
        doc[key] = value
    else:
        doc[section][key] = value
    return doc


def check_config(doc) -> None:
    try:
        cfg, dataset = parse_run_config(doc, "config.json")
    except LinnetError as exc:
        assert str(exc).startswith("config.json: ") and "\n" not in str(exc)
        return
    assert isinstance(dataset["num_inputs"], int) and all(isinstance(c, str) for c in dataset["classes"])
    assert cfg.resolved("epochs") >= 1


edits = st.tuples(st.sampled_from(["settings", "dataset", "top"]),
                  st.sampled_from(sorted(SETTINGS) + ["name", "classes", "num_inputs", "input_hw", "channels",
                                                      "settings", "dataset", "x"]),
                  json_values)


@FAST
@given(edit=edits)
def test_fuzz_config_json_fields(good_config, edit):
    check_config(_config_edit(good_config, *edit))


@FAST
@given(doc=json_values)
def test_fuzz_config_json_anything(doc):
    check_config(doc)


def _resigned(data: bytes, key: str, value) -> bytes:
    """The checkpoint with one metadata value replaced and the digest recomputed (as an attacker would)."""
    from safetensors.torch import load

    from linnet.runs import _digest
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header["__metadata__"]
    meta[key] = value
    meta.pop("sha256")
    meta["sha256"] = _digest(load(data), meta)
    new = json.dumps(header).encode()
    new += b" " * (-len(new) % 8)
    return struct.pack("<Q", len(new)) + new + data[8 + n:]


def check_checkpoint(run_dir, data: bytes) -> None:
    (run_dir / CHECKPOINT).write_bytes(data)
    try:
        state, history, meta = RunDir(run_dir).load_checkpoint()
    except LinnetError as exc:
        assert "\n" not in str(exc)
        return
    assert state and [r.epoch for r in history] == list(range(1, len(history) + 1))
    assert isinstance(meta, dict)


@FAST
@given(key=st.sampled_from(["format", "epoch", "metrics_sha256", "meta", "extra"]),
       value=json_values | json_values.map(json.dumps))
def test_fuzz_resigned_checkpoint_metadata(base_run, tmp_path, key, value):
    run_dir = tmp_path / "r"
    if not run_dir.exists():
        shutil.copytree(base_run, run_dir)
    check_checkpoint(run_dir, _resigned((base_run / CHECKPOINT).read_bytes(), key, value))


@FAST
@given(flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 255)), min_size=1, max_size=4),
       cut=st.none() | st.integers(0, 10**6))
def test_fuzz_checkpoint_bytes(base_run, tmp_path, flips, cut):
    run_dir = tmp_path / "r"
    if not run_dir.exists():
        shutil.copytree(base_run, run_dir)
    data = bytearray((base_run / CHECKPOINT).read_bytes())
    for at, bits in flips:
        data[at % len(data)] ^= bits
    check_checkpoint(run_dir, bytes(data[:cut] if cut is not None else data))


@pytest.mark.slow
@SLOW
@given(edit=edits, doc=json_values)
def test_fuzz_config_json_heavy(good_config, edit, doc):
    check_config(_config_edit(good_config, *edit))
    check_config(doc)


@pytest.mark.slow
@SLOW
@given(key=st.sampled_from(["format", "epoch", "metrics_sha256", "meta"]), value=json_values.map(json.dumps),
       flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 255)), max_size=3))
def test_fuzz_checkpoint_heavy(base_run, tmp_path, key, value, flips):
    run_dir = tmp_path / "r"
    if not run_dir.exists():
        shutil.copytree(base_run, run_dir)
    data = bytearray(_resigned((base_run / CHECKPOINT).read_bytes(), key, value))
    for at, bits in flips:
        data[at % len(data)] ^= bits
    check_checkpoint(run_dir, bytes(data))
