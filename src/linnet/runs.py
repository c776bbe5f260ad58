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
from linnet.errors import ConfigError, LinnetError
from linnet.train import EpochRecord

CHECKPOINT = "checkpoint.safetensors"
CHECKPOINT_FORMAT = "linnet-checkpoint/1"
LOCK = ".lock"


class CheckpointError(LinnetError):
    """A checkpoint is missing, truncated, edited or not ours; nothing is overwritten."""


class RunBusy(LinnetError):
    """Another live process holds the run directory."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _lock_holder(run_path: Path) -> int | None:
    """The pid of the live process holding the run's lock, None when free or stale."""
    try:
        pid = int((run_path / LOCK).read_text().strip() or 0)
    except (OSError, ValueError):
        return None
    return pid if pid and _pid_alive(pid) else None


class RunDir:
    """One run's directory; `create` for a new run, `open` to resume. Use as a context manager (lock)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    @classmethod
    def create(cls, runs_dir: str | os.PathLike, name: str, unique: bool = False) -> "RunDir":
        """A new run directory runs_dir/name; `unique` (a default name): name-2, name-3, ... when taken."""
        runs_dir = Path(runs_dir)
        try:
            runs_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # e.g. --runs-dir names a file: not "already exists, resume it"
            raise ConfigError(f"cannot create the runs directory {runs_dir}: {exc.strerror or exc}") from None
        for candidate in [name, *(f"{name}-{n}" for n in range(2, 1000))] if unique else ():
            try:
                (runs_dir / candidate).mkdir()  # atomic: two processes never get the same directory
                return cls(runs_dir / candidate)
            except FileExistsError:
                continue
            except OSError:
                break  # not a collision: the refusal below names the error
        try:
            (runs_dir / name).mkdir()  # atomic: of two runs with one name, the second fails here
        except FileExistsError:
            pid = _lock_holder(runs_dir / name)
            if pid is not None:
                raise ConfigError(f"run directory {runs_dir / name} is being written by another linnet "
                                  f"process (pid {pid}); pick another --name") from None
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
        lock = self.path / LOCK
        for _ in range(2):
            try:
                fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                pid = _lock_holder(self.path)
                if pid is not None and pid != os.getpid():
                    raise RunBusy(f"{self.path} is in use by another linnet process (pid {pid})") from None
                lock.unlink(missing_ok=True)  # stale: its process is gone (killed), take over
                continue
            with os.fdopen(fd, "w") as f:
                f.write(str(os.getpid()))
            for leftover in self.path.glob(".*.tmp"):  # a write cut short by kill -9; never a final name
                leftover.unlink(missing_ok=True)
            return self
        raise RunBusy(f"{self.path}: could not take the lock {lock}")

    def __exit__(self, *exc) -> None:
        (self.path / LOCK).unlink(missing_ok=True)

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
        data = path.read_bytes()
        where = f"{path}"
        metadata = _safetensors_metadata(data, where)
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
        except (KeyError, TypeError, ValueError) as exc:
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


def _safetensors_metadata(data: bytes, where: str) -> dict[str, str]:
    """Read the JSON header of a safetensors file (8-byte length, then JSON) without trusting it."""
    if len(data) < 8:
        raise CheckpointError(f"{where}: truncated checkpoint ({len(data)} bytes)")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        if data[:4] == b"PK\x03\x04" or (data[0] == 0x80 and 2 <= data[1] <= 5):  # zip (torch.save) or pickle
            raise CheckpointError(f"{where}: a pickle (torch.save) file, not a safetensors checkpoint; refused "
                                  "without unpickling it, since unpickling can run code")
        raise CheckpointError(f"{where}: truncated checkpoint (header of {n} bytes, file has {len(data)})")
    try:
        header = json.loads(data[8:8 + n])
    except ValueError as exc:
        raise CheckpointError(f"{where}: damaged checkpoint header ({exc})") from None
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{where}: not a linnet checkpoint (no metadata)")
    return meta
