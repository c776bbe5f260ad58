"""The run directory: config, metrics, summary and an atomic, code-free checkpoint.

runs/<name>/ holds config.json, metrics.csv, summary.json, checkpoint.safetensors, plots and
report.html. Every file is replaced atomically, so a run killed at any instant leaves the previous
complete epoch loadable. The checkpoint is safetensors (tensors + string metadata, never pickle):
loading it cannot execute code. metrics.csv is append-only (linnet.metricslog); the checkpoint
records how many of its rows belong to the weights and their digest, so the two always agree and an
epoch costs the same at epoch 10 000 as at epoch 1.

The checkpoint's SHA-256 digest is not keyed: it catches accidents (a cut or flipped file, a stray
edit), not someone who re-signs an edited file. So every field is validated as well, signed or not.
"""
from __future__ import annotations

import hashlib
import json
import os
import struct
from pathlib import Path

import torch

from linnet.atomic import WriteError, atomic_write_bytes, atomic_write_text
from linnet.checkpointfields import CheckpointError, check_metadata, check_tensors
from linnet.checks import check_utf8
from linnet.errors import ConfigError, LinnetError
from linnet.metricslog import MetricsError, MetricsLog, chain, row_text
from linnet.train import EpochRecord

CHECKPOINT = "checkpoint.safetensors"
CHECKPOINT_FORMAT = "linnet-checkpoint/1"
LOCK = ".lock"
METRICS = "metrics.csv"


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
        self.metrics = MetricsLog(self.path / METRICS)
        self._logged: tuple[int, str] | None = None   # (rows, digest) of metrics.csv, once known
        self._locked = False

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
            pid = _lock_holder(runs_dir / name)
            if pid is not None:
                raise ConfigError(f"run directory {runs_dir / name} is being written by another linnet "
                                  f"process (pid {pid}); pick another --name") from None
            if _unstarted(runs_dir / name):   # never reached its first checkpoint: not a run, take the name
                _clear_unstarted(runs_dir / name)
                return cls(runs_dir / name)
            raise ConfigError(f"run directory {runs_dir / name} already exists; resume it with "
                              f"--resume {runs_dir / name}, or pick another --name") from None
        except OSError as exc:
            raise ConfigError(f"cannot create the run directory {runs_dir / name}: {exc.strerror or exc}") from None
        return cls(runs_dir / name)

    @classmethod
    def open(cls, path: str | os.PathLike) -> "RunDir":
        path = Path(path)
        check_utf8("run directory", os.fspath(path))
        if not path.is_dir():
            raise ConfigError(f"run directory {path} does not exist")
        if not (path / "config.json").is_file():
            raise ConfigError(f"{path} is not a linnet run directory (no config.json)")
        return cls(path)

    def unstarted(self) -> bool:
        """True while the run has not reached its first checkpoint (see _unstarted)."""
        return _unstarted(self.path)

    def discard_unstarted(self) -> None:
        """Remove the directory of a run that never reached its first checkpoint (and only such a one)."""
        if _unstarted(self.path) and _lock_holder(self.path) in (None, os.getpid()):
            _clear_unstarted(self.path)
            try:
                self.path.rmdir()
            except OSError:   # not empty after all (someone else's file): leave it
                pass

    # -- lock: one live writer per run directory --------------------------------------------------
    def __enter__(self) -> "RunDir":
        lock = self.path / LOCK
        if not os.access(self.path, os.W_OK | os.X_OK):  # read-only mount, mode 555: say so before anything
            raise ConfigError(f"run directory {self.path} cannot be written (read-only or no permission); "
                              "copy it somewhere writable to continue it")
        for _ in range(2):
            try:
                fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                pid = _lock_holder(self.path)
                if pid is not None and pid != os.getpid():
                    raise RunBusy(f"{self.path} is in use by another linnet process (pid {pid})") from None
                lock.unlink(missing_ok=True)  # stale: its process is gone (killed), take over
                continue
            try:
                with os.fdopen(fd, "w") as f:
                    f.write(str(os.getpid()))
            except OSError as exc:   # a full disk: no lock, no traceback
                lock.unlink(missing_ok=True)
                raise WriteError(lock, exc) from None
            remove_leftovers(self.path)  # writes cut short by kill -9 (linnet's own temporary names only)
            self._locked = True
            return self
        raise RunBusy(f"{self.path}: could not take the lock {lock}")

    def __exit__(self, *exc) -> None:
        self._locked = False
        (self.path / LOCK).unlink(missing_ok=True)

    # -- plain files ------------------------------------------------------------------------------
    def write_json(self, name: str, obj) -> None:
        atomic_write_text(self.path / name, json.dumps(obj, indent=2, sort_keys=True) + "\n")

    def read_json(self, name: str) -> dict:
        path = self.path / name
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError, RecursionError) as exc:
            raise ConfigError(f"{path}: cannot be read as JSON ({str(exc)[:80] or type(exc).__name__})") from None

    def write_metrics(self, history: list[EpochRecord]) -> None:
        """metrics.csv anew with `history` (the usual way is one append per epoch, by save_checkpoint)."""
        self._logged = (len(history), self.metrics.start(history))

    # -- checkpoint -------------------------------------------------------------------------------
    def save_checkpoint(self, state: dict[str, torch.Tensor], history: list[EpochRecord], meta: dict) -> None:
        """Checkpoint after len(history) epochs, then its row appended to metrics.csv: O(1) an epoch.
        The checkpoint (weights, RNG, epoch count, the rows' digest and the last row) replaces the
        previous one atomically; metrics.csv is at most one row behind it, never ahead (metricslog)."""
        from safetensors.torch import save
        n = len(history)
        if self._logged is None or self._logged[0] not in (n - 1, n):
            self.write_metrics(history[:-1])   # first save of this RunDir object: the file anew, once
        last = row_text(history[-1]) if n else ""
        digest = chain(self._logged[1], last) if n and self._logged[0] == n - 1 else self._logged[1]
        tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in state.items()}
        tensors["rng.torch"] = torch.get_rng_state()
        metadata = {"format": CHECKPOINT_FORMAT, "epoch": str(n), "metrics_sha256": digest, "last": last,
                    "meta": json.dumps(meta)}
        metadata["sha256"] = _digest(tensors, metadata)
        atomic_write_bytes(self.path / CHECKPOINT, save(tensors, metadata=metadata))
        if self._logged[0] == n - 1:
            self.metrics.append_row(last)
        self._logged = (n, digest)

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
        epoch, digest, meta = check_metadata(metadata, CHECKPOINT_FORMAT, where)
        state = {k.removeprefix("model."): v for k, v in tensors.items() if k.startswith("model.")}
        check_tensors(tensors, state, where)
        try:   # first: it says how epoch count and history disagree, where the digest only says "edited"
            history, size, missing = self.metrics.read(epoch, digest, metadata["last"], where)
        except MetricsError as exc:
            raise CheckpointError(str(exc)) from None
        if metadata.get("sha256") != _digest(tensors, metadata):
            raise CheckpointError(f"{where}: its contents do not match the digest linnet wrote with them; "
                                  "the file was edited or damaged")
        if self._locked:  # only the lock holder writes: a reader may be looking at a live run
            if epoch == 0 and not self.metrics.path.exists():
                self.metrics.start()
            else:
                self.metrics.repair(size, metadata["last"] if missing else None)
        self._logged = (epoch, digest)
        meta["rng_state"] = tensors["rng.torch"]
        return state, history, meta


UNSTARTED_NAMES = {"config.json", METRICS, LOCK}   # what a run holds before its first checkpoint


def _unstarted(path: Path) -> bool:
    """A directory of a run killed (or failed) before its first checkpoint: no checkpoint, nothing
    but linnet's own first files. It is no run: a new run may take the name, --resume starts it over."""
    from linnet.atomic import is_temp_name
    try:
        names = [p.name for p in path.iterdir()]
    except OSError:
        return False
    return CHECKPOINT not in names and all(n in UNSTARTED_NAMES or is_temp_name(n) for n in names)


def _clear_unstarted(path: Path) -> None:
    from linnet.atomic import is_temp_name
    for p in path.iterdir():
        if p.name in UNSTARTED_NAMES or is_temp_name(p.name):
            p.unlink(missing_ok=True)


def remove_leftovers(directory: Path) -> None:
    """Delete the temporary files of atomic writes cut short (linnet's names only, never a user's)."""
    from linnet.atomic import is_temp_name
    for leftover in directory.glob(".*.tmp"):
        if is_temp_name(leftover.name):
            leftover.unlink(missing_ok=True)


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
