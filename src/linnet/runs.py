"""The run directory: config, metrics, summary and an atomic, code-free checkpoint.

runs/<name>/ holds config.json, metrics.csv, summary.json, checkpoint.safetensors, plots and
report.html. Every file is replaced atomically, so a run killed at any instant leaves the previous
complete epoch loadable. The checkpoint is safetensors (tensors + string metadata, never pickle):
loading it cannot execute code. It also carries the metrics history, so metrics.csv can always be
rebuilt to match the weights it sits beside.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import struct
from dataclasses import fields
from pathlib import Path

import torch

from linnet.atomic import atomic_write_bytes, atomic_write_text
from linnet.checks import MAX_PARAMETERS
from linnet.errors import ConfigError, LinnetError
from linnet.runlock import LOCK, RunBusy, acquire, holder, release  # noqa: F401 (LOCK, RunBusy: re-exported)
from linnet.train import EpochRecord

CHECKPOINT = "checkpoint.safetensors"
CHECKPOINT_FORMAT = "linnet-checkpoint/1"
_MAX_HEADER_BYTES = 100_000_000  # safetensors' own limit on its JSON header
# weights (float64 at most) of the largest model build_model makes, the RNG state, and the header
MAX_CHECKPOINT_BYTES = 8 * MAX_PARAMETERS + (1 << 20) + _MAX_HEADER_BYTES


class CheckpointError(LinnetError):
    """A checkpoint is missing, truncated, edited or not ours; nothing is overwritten."""


class RunDir:
    """One run's directory; `create` for a new run, `open` to resume. Use as a context manager (lock)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    @classmethod
    def create(cls, runs_dir: str | os.PathLike, name: str) -> "RunDir":
        runs_dir = Path(runs_dir)
        try:
            runs_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # e.g. --runs-dir names a file: not "already exists, resume it"
            raise ConfigError(f"cannot create the runs directory {runs_dir}: {exc.strerror or exc}") from None
        try:
            (runs_dir / name).mkdir()  # atomic: of two runs with one name, the second fails here
        except FileExistsError:
            pid = holder(runs_dir / name)
            if pid is not None:
                who = f"pid {pid}" if pid > 0 else "pid unknown"
                raise ConfigError(f"run directory {runs_dir / name} is being written by another linnet "
                                  f"process ({who}); pick another --name") from None
            raise ConfigError(f"run directory {runs_dir / name} already exists; resume it with "
                              f"--resume {runs_dir / name}, or pick another --name") from None
        except OSError as exc:
            raise ConfigError(f"cannot create the run directory {runs_dir / name}: {exc.strerror or exc}") from None
        return cls(runs_dir / name)

    @classmethod
    def open(cls, path: str | os.PathLike) -> "RunDir":
        path = Path(path)
        if not path.is_dir():
            raise ConfigError(f"run directory {path} does not exist")
        if not (path / "config.json").is_file():
            raise ConfigError(f"{path} is not a linnet run directory (no config.json)")
        return cls(path)

    # -- lock: one live writer per run directory --------------------------------------------------
    def __enter__(self) -> "RunDir":
        self._lock_fd = acquire(self.path)  # an OS lock (linnet.runlock): released even by kill -9
        for leftover in self.path.glob(".*.tmp"):  # a write cut short by kill -9; never a final name
            leftover.unlink(missing_ok=True)
        return self

    def __exit__(self, *exc) -> None:
        release(self.path, self._lock_fd)

    # -- plain files ------------------------------------------------------------------------------
    def write_json(self, name: str, obj) -> None:
        atomic_write_text(self.path / name, json.dumps(obj, indent=2, sort_keys=True) + "\n")

    def read_json(self, name: str) -> dict:
        path = self.path / name
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{path}: cannot be read as JSON ({exc})") from None

    def write_metrics(self, history: list[EpochRecord]) -> None:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=[f.name for f in fields(EpochRecord)], lineterminator="\n")
        writer.writeheader()
        for record in history:
            writer.writerow({k: ("" if v is None else v) for k, v in record.as_dict().items()})
        atomic_write_text(self.path / "metrics.csv", buf.getvalue())

    # -- checkpoint -------------------------------------------------------------------------------
    def save_checkpoint(self, state: dict[str, torch.Tensor], history: list[EpochRecord], meta: dict) -> None:
        from safetensors.torch import save
        tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in state.items()}
        tensors["rng.torch"] = torch.get_rng_state()
        metadata = {"format": CHECKPOINT_FORMAT, "epoch": str(len(history)),
                    "history": json.dumps([r.as_dict() for r in history]), "meta": json.dumps(meta)}
        metadata["sha256"] = _digest(tensors, metadata)
        atomic_write_bytes(self.path / CHECKPOINT, save(tensors, metadata=metadata))

    def load_checkpoint(self) -> tuple[dict[str, torch.Tensor], list[EpochRecord], dict]:
        """(model state, history, meta), after checking that the file is whole and consistent."""
        path = self.path / CHECKPOINT
        if not path.is_file():
            raise CheckpointError(f"{path}: no checkpoint to resume from (the first epoch never completed)")
        where = f"{path}"
        data, metadata = _read_checkpoint(path, where)
        from safetensors import SafetensorError
        from safetensors.torch import load
        try:
            tensors = load(data)
        except (SafetensorError, ValueError, RuntimeError) as exc:
            raise CheckpointError(f"{where}: damaged checkpoint ({exc})") from None
        if metadata.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointError(f"{where}: not a linnet checkpoint (format {metadata.get('format')!r}, "
                                  f"expected {CHECKPOINT_FORMAT!r})")
        try:
            history = [EpochRecord(**row) for row in json.loads(metadata["history"])]
            meta = json.loads(metadata["meta"])
            epoch = int(metadata["epoch"])
        except (KeyError, TypeError, ValueError, RecursionError) as exc:  # RecursionError: JSON nested too deep
            raise CheckpointError(f"{where}: checkpoint metadata is damaged or edited ({exc})") from None
        if epoch != len(history) or [r.epoch for r in history] != list(range(1, epoch + 1)):
            raise CheckpointError(f"{where}: checkpoint says epoch {epoch} but its history has "
                                  f"{len(history)} epochs; it was edited")
        state = {k.removeprefix("model."): v for k, v in tensors.items() if k.startswith("model.")}
        for name, tensor in state.items():
            if not tensor.is_floating_point():  # an edited dtype: the bytes would be read as other numbers
                raise CheckpointError(f"{where}: weights {name!r} are {str(tensor.dtype).removeprefix('torch.')}, "
                                      "expected floating point")
            if not torch.isfinite(tensor).all():
                raise CheckpointError(f"{where}: weights {name!r} contain NaN or Inf")
        if metadata.get("sha256") != _digest(tensors, metadata):
            raise CheckpointError(f"{where}: its contents do not match the digest linnet wrote with them; "
                                  "the file was edited or damaged")
        if "rng.torch" in tensors:
            meta["rng_state"] = tensors["rng.torch"]
        return state, history, meta


def _digest(tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> str:
    """SHA-256 of everything a checkpoint says (tensors and metadata but the digest itself): any
    edit that survives the structural checks, a changed weight or accuracy, is still caught."""
    h = hashlib.sha256()
    for key in sorted(k for k in metadata if k != "sha256"):
        h.update(f"{key}={metadata[key]}\n".encode())
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}\n".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def _read_checkpoint(path: Path, where: str) -> tuple[bytes, dict[str, str]]:
    """(the file's bytes, its metadata), read only once the header holds: the 8-byte header length is
    bounded, the JSON header parsed (nesting bounded), and the file's size must be what the header
    declares and within MAX_CHECKPOINT_BYTES. A huge or sparse file is refused before it is read."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            start = f.read(8)
            if len(start) < 8:
                raise CheckpointError(f"{where}: truncated checkpoint ({len(start)} bytes)")
            (n,) = struct.unpack("<Q", start)
            if n > min(size - 8, _MAX_HEADER_BYTES):
                if start[:4] == b"PK\x03\x04" or (start[0] == 0x80 and 2 <= start[1] <= 5):  # zip or pickle
                    raise CheckpointError(f"{where}: a pickle (torch.save) file, not a safetensors checkpoint; "
                                          "refused without unpickling it, since unpickling can run code")
                if n > size - 8:
                    raise CheckpointError(f"{where}: truncated checkpoint (header of {n} bytes, file has {size})")
                raise CheckpointError(f"{where}: damaged checkpoint header ({n} bytes, more than the "
                                      f"{_MAX_HEADER_BYTES} safetensors allows)")
            head = f.read(n)
            header, body = _parse_header(head, where)
            if 8 + n + body != size:
                raise CheckpointError(f"{where}: damaged checkpoint (its header declares {8 + n + body} bytes, "
                                      f"the file has {size})")
            if size > MAX_CHECKPOINT_BYTES:
                raise CheckpointError(f"{where}: {size} bytes, larger than any linnet checkpoint "
                                      f"({MAX_CHECKPOINT_BYTES} at most, see linnet.checks.MAX_PARAMETERS)")
            data = start + head + f.read(body)
    except OSError as exc:
        raise CheckpointError(f"{where}: cannot be read ({exc.strerror or exc})") from None
    return data, header["__metadata__"]


def _parse_header(head: bytes, where: str) -> tuple[dict, int]:
    """(the JSON header, bytes of tensor data it declares); any malformed header is one CheckpointError."""
    try:
        header = json.loads(head)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested too deep
        raise CheckpointError(f"{where}: damaged checkpoint header ({type(exc).__name__}: {exc})") from None
    if not isinstance(header, dict) or not isinstance(header.get("__metadata__"), dict):
        raise CheckpointError(f"{where}: not a linnet checkpoint (no metadata)")
    try:
        ends = [entry["data_offsets"][1] for key, entry in header.items() if key != "__metadata__"]
    except (TypeError, KeyError, IndexError) as exc:
        raise CheckpointError(f"{where}: damaged checkpoint header (a tensor without data offsets: {exc})") from None
    if not all(isinstance(e, int) and not isinstance(e, bool) and e >= 0 for e in ends):
        raise CheckpointError(f"{where}: damaged checkpoint header (a tensor's offsets are not byte counts)")
    return header, max(ends, default=0)
