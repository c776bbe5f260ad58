"""linnet.metricslog: metrics.csv appended row by row, vouched for by a hash chain the checkpoint keeps."""
from __future__ import annotations

import pytest

from linnet.metricslog import GENESIS, HEADER, MetricsError, MetricsLog, chain, row_text
from linnet.train import EpochRecord


def records(n: int, acc: bool = True) -> list[EpochRecord]:
    return [EpochRecord(i, 0.1 / i, 1.0 / i, 0.5 + i / 100 if acc else None, 1.1 / i, 0.4 + i / 100 if acc else None,
                        0.01 * i) for i in range(1, n + 1)]


def written(tmp_path, history) -> tuple[MetricsLog, str]:
    """A metrics.csv of `history` written the way a run writes it (start, then one append an epoch)."""
    log = MetricsLog(tmp_path / "metrics.csv")
    digest = log.start(history[:1])
    for r in history[1:]:
        log.append_row(row_text(r))
        digest = chain(digest, row_text(r))
    return log, digest


@pytest.mark.parametrize("acc", [True, False])
def test_rows_read_back_exactly(tmp_path, acc):
    history = records(5, acc)
    log, digest = written(tmp_path, history)
    got, size, missing = log.read(5, digest, row_text(history[-1]), "ckpt")
    assert got == history and not missing                  # floats round-trip bit for bit; None stays None
    assert size == (tmp_path / "metrics.csv").stat().st_size
    assert (tmp_path / "metrics.csv").read_text().startswith(HEADER)


def test_the_digest_is_a_chain_over_the_rows():
    r = records(2)
    assert chain(chain(GENESIS, row_text(r[0])), row_text(r[1])) != chain(chain(GENESIS, row_text(r[1])), row_text(r[0]))


def test_a_row_missing_after_its_checkpoint_comes_from_the_checkpoint(tmp_path):
    history = records(3)
    log, digest2 = written(tmp_path, history[:2])
    digest3, last = chain(digest2, row_text(history[2])), row_text(history[2])
    with open(tmp_path / "metrics.csv", "a") as f:
        f.write(last[:5])                                   # killed mid-append: half a row
    got, size, missing = log.read(3, digest3, last, "ckpt")
    assert got == history and missing
    log.repair(size, last)
    assert log.read(3, digest3, last, "ckpt")[0] == history
    assert (tmp_path / "metrics.csv").read_text().count("\n") == 4


def test_rows_beyond_the_checkpoint_are_ignored_then_cut(tmp_path):
    history = records(3)
    log, _ = written(tmp_path, history)
    digest2 = chain(chain(GENESIS, row_text(history[0])), row_text(history[1]))   # a checkpoint of epoch 2
    got, size, missing = log.read(2, digest2, row_text(history[1]), "ckpt")
    assert got == history[:2] and not missing
    log.repair(size, None)
    assert log.read(2, digest2, row_text(history[1]), "ckpt")[0] == history[:2]
    assert (tmp_path / "metrics.csv").stat().st_size == size


@pytest.mark.parametrize("damage, match", [
    (lambda t: t.replace("0.51", "0.99"), r"ckpt: the first 2 rows of .*metrics.csv are not those it was written with"),
    (lambda t: t[:t.index("\n") + 1], r"ckpt: checkpoint says epoch 2 but its history has 0 epochs"),
    (lambda t: "epoch\n" + t.split("\n", 1)[1], r"the header is not"),
])
def test_an_edited_file_is_refused(tmp_path, damage, match):
    history = records(2)
    log, digest = written(tmp_path, history)
    path = tmp_path / "metrics.csv"
    path.write_text(damage(path.read_text()))
    with pytest.raises(MetricsError, match=match):
        log.read(2, digest, row_text(history[-1]), "ckpt")


def test_a_consistent_chain_of_bad_rows_is_still_refused(tmp_path):
    """The digest is not keyed: rows re-chained by hand must still parse as linnet's records."""
    path = tmp_path / "metrics.csv"
    for row, match in (("1,0.1,x,,1,,0.1\n", "row 1 is not numbers"), ("2,0.1,1,,1,,0.1\n", "epochs are not numbered"),
                       ("1,2\n", "row 1 has 2 fields, expected 7")):
        path.write_text(HEADER + row)
        with pytest.raises(MetricsError, match=match):
            MetricsLog(path).read(1, chain(GENESIS, row), row, "ckpt")


def test_missing_file(tmp_path):
    with pytest.raises(MetricsError, match="metrics.csv: missing, but ckpt counts 3 epochs"):
        MetricsLog(tmp_path / "metrics.csv").read(3, GENESIS, "", "ckpt")
    assert MetricsLog(tmp_path / "metrics.csv").read(0, GENESIS, "", "ckpt") == ([], 0, False)
