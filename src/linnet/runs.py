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

from linnet.atomic import atomic_write_bytes, atomic_write_text
from linnet.checkpointfields import CheckpointError, check_metadata, check_tensors
from linnet.checks import MAX_PARAMETERS, check_utf8
from linnet.errors import ConfigError
from linnet.metricslog import MetricsError, MetricsLog, chain, row_text
from linnet.runlock import LOCK, RunBusy, acquire, holder, release  # noqa: F401 (LOCK, RunBusy: re-exported)
from linnet.train import EpochRecord

CHECKPOINT = "checkpoint.safetensors"
CHECKPOINT_FORMAT = "linnet-checkpoint/1"
_MAX_HEADER_BYTES = 100_000_000  # safetensors' own limit on its JSON header
# weights (float64 at most) of the largest model build_model makes, the RNG state, and the header
MAX_CHECKPOINT_BYTES = 8 * MAX_PARAMETERS + (1 << 20) + _MAX_HEADER_BYTES
METRICS = "metrics.csv"


class RunDir:
    """One run's directory; `create` for a new run, `open` to resume. Use as a context manager (lock)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.metrics = MetricsLog(self.path / METRICS)
        self._logged: tuple[int, str] | None = None   # (rows, digest) of metrics.csv, once known
        self._locked = False

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
            pid = holder(runs_dir / name)
            if pid is not None:
                who = f"pid {pid}" if pid > 0 else "pid unknown"
                raise ConfigError(f"run directory {runs_dir / name} is being written by another linnet "
                                  f"process ({who}); pick another --name") from None
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
        if _unstarted(self.path) and holder(self.path) in (None, os.getpid()):
            _clear_unstarted(self.path)
            try:
                self.path.rmdir()
            except OSError:   # not empty after all (someone else's file): leave it
                pass

    # -- lock: one live writer per run directory --------------------------------------------------
    def __enter__(self) -> "RunDir":
        if not os.access(self.path, os.W_OK | os.X_OK):  # read-only mount, mode 555: say so before anything
            raise ConfigError(f"run directory {self.path} cannot be written (read-only or no permission); "
                              "copy it somewhere writable to continue it")
        self._lock_fd = acquire(self.path)  # an OS lock (linnet.runlock): released even by kill -9
        remove_leftovers(self.path)  # writes cut short by kill -9 (linnet's own temporary names only)
        self._locked = True
        return self

    def __exit__(self, *exc) -> None:
        self._locked = False
        release(self.path, self._lock_fd)

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
        where = f"{path}"
        data, metadata = _read_checkpoint(path, where)
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
