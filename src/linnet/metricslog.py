"""metrics.csv, append-only: one row per epoch at a cost that does not grow with the epoch number.

The checkpoint does not carry the history (re-serialising it every epoch made a run's total time
grow with the square of its epochs); it carries the epoch count n, the last row, and a hash chain
of the rows:

    digest_0 = sha256(header),  digest_n = sha256(digest_{n-1} + row_n)

Each epoch writes its checkpoint (atomically) first, then appends its row. So metrics.csv never
holds a row of weights that were not saved; a process killed between the two leaves it one row
short, and that row is in the checkpoint: a reader adds it, the lock holder writes it back
(`repair`). The weights and the history read back always agree, an edited or removed row is
caught, and an epoch costs one small append whatever the run's length.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import astuple, fields
from pathlib import Path

from linnet.errors import LinnetError
from linnet.train import EpochRecord

FIELDS = tuple(f.name for f in fields(EpochRecord))
HEADER = ",".join(FIELDS) + "\n"
OPTIONAL = {"train_acc", "test_acc"}       # None (an empty cell) for linear regression
GENESIS = hashlib.sha256(HEADER.encode()).hexdigest()


class MetricsError(LinnetError):
    """metrics.csv does not agree with the checkpoint beside it (edited, cut, or not linnet's)."""


def row_text(record: EpochRecord) -> str:
    """One record as its CSV line; str(float) round-trips exactly, so the history read back is the same."""
    return ",".join("" if v is None else str(v) for v in astuple(record)) + "\n"


def chain(digest: str, row: str) -> str:
    return hashlib.sha256((digest + row).encode()).hexdigest()


def _parse(line: str, where: str, number: int) -> EpochRecord:
    cells = line.rstrip("\n").split(",")
    if len(cells) != len(FIELDS):
        raise MetricsError(f"{where}: row {number} has {len(cells)} fields, expected {len(FIELDS)}")
    try:
        values = [None if (cell == "" and name in OPTIONAL) else (int(cell) if name == "epoch" else float(cell))
                  for name, cell in zip(FIELDS, cells)]
    except ValueError as exc:
        raise MetricsError(f"{where}: row {number} is not numbers ({exc})") from None
    return EpochRecord(*values)


class MetricsLog:
    """metrics.csv of one run directory: `start`, `append` per epoch, `read` back what a checkpoint vouches for."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def start(self, history: list[EpochRecord] = ()) -> str:
        """Write the file anew (atomically) with `history`; returns the digest of its rows."""
        from linnet.atomic import atomic_write_text
        digest, rows = GENESIS, []
        for record in history:
            row = row_text(record)
            rows.append(row)
            digest = chain(digest, row)
        atomic_write_text(self.path, HEADER + "".join(rows))
        return digest

    def append_row(self, row: str) -> None:
        """Append one row (after the checkpoint that counts it), synced: only the last row has a copy."""
        from linnet.atomic import WriteError
        try:
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(row)
                f.flush()
                os.fsync(f.fileno())
        except OSError as exc:
            raise WriteError(self.path, exc) from None

    def read(self, epochs: int, digest: str, last: str, checkpoint: str) -> tuple[list[EpochRecord], int, bool]:
        """The first `epochs` rows, checked against `digest`; the last one may be missing from the file
        (killed before the append) and is then `last`, the checkpoint's copy
        -> (records, bytes of the file's rows that belong to them, whether `last` must be appended)."""
        where = str(self.path)
        try:
            with open(self.path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            if epochs == 0:
                return [], 0, False   # start() writes it anew
            raise MetricsError(f"{where}: missing, but {checkpoint} counts {epochs} epochs") from None
        except OSError as exc:
            raise MetricsError(f"{where}: cannot be read ({exc.strerror or exc})") from None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise MetricsError(f"{where}: not text (not a linnet metrics file)") from None
        if not text.startswith(HEADER):
            raise MetricsError(f"{where}: the header is not {HEADER.strip()!r}")
        lines = [line for line in text[len(HEADER):].splitlines(keepends=True) if line.endswith("\n")]
        rows = lines[:epochs]                                   # a half-written last line is no row
        missing = len(rows) == epochs - 1 and epochs > 0 and last.endswith("\n")
        if missing:
            rows.append(last)
        if len(rows) < epochs:
            raise MetricsError(f"{checkpoint}: checkpoint says epoch {epochs} but its history has {len(lines)} "
                               f"epochs; it was edited (history: {where})")
        got, size = GENESIS, len(HEADER.encode())
        for line in rows:
            got = chain(got, line)
            size += len(line.encode())
        if got != digest or (epochs and rows[-1] != last):
            raise MetricsError(f"{checkpoint}: the first {epochs} rows of {where} are not those it was written "
                               "with; the history was edited")
        records = [_parse(line, where, i) for i, line in enumerate(rows, start=1)]
        if [r.epoch for r in records] != list(range(1, epochs + 1)):
            raise MetricsError(f"{where}: epochs are not numbered 1 to {epochs}")
        return records, size - (len(last.encode()) if missing else 0), missing

    def repair(self, size: int, last: str | None) -> None:
        """As the lock holder: cut what follows the first `size` bytes (a half-written row), then
        append `last` (the row of a checkpoint whose append never happened) when given."""
        if self.path.stat().st_size > size:
            os.truncate(self.path, size)
        if last is not None:
            self.append_row(last)
