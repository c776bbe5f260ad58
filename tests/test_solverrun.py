"""A run trained by L-BFGS (linnet.solverrun): progress while it solves, the overfitting warning."""
from helpers_train import no_plots, read_json  # noqa: F401

from linnet.config import TrainConfig
from linnet.experiment import train
from linnet.solverrun import overfit_warning
from linnet.train import Callback, EpochRecord


def cfg(tmp_path, name, **kw):
    return TrainConfig(dataset="digits", runs_dir=str(tmp_path), name=name, solver="lbfgs", **kw)


class SolverWatch(Callback):
    def __init__(self):
        self.steps = []

    def on_solver_step(self, iteration, loss):
        self.steps.append((iteration, loss))


def test_lbfgs_shows_progress_and_warns_when_it_fits_a_small_set_exactly(tmp_path, no_plots, capsys):
    watch = SolverWatch()
    result = train(cfg(tmp_path, "exact"), callbacks=[watch])
    assert len(watch.steps) > 10 and watch.steps[-1][0] > 10                  # iterations, as the solve went
    err = capsys.readouterr().err
    assert result.summary["train_loss"] < 0.01 and result.summary["test_loss"] > 0.1      # digits: separable
    assert err.startswith("warning: the training loss reached ") and "fits the 1437 training samples exactly" in err
    assert "add --weight-decay (e.g. 1e-3)" in err
    assert read_json(result.run_dir / "summary.json")["warnings"] == [
        w.replace("the 1437 training samples", "the training set") for w in [err[len("warning: "):].strip()]]
    config = read_json(result.run_dir / "config.json")
    assert config["resolved"]["solver"]["name"] == "lbfgs" and "lr" not in config["resolved"] and "plan" not in config
    regular = train(cfg(tmp_path, "regular", weight_decay=1e-3), quiet=True)
    assert "warnings" not in regular.summary


def test_the_warning_needs_lbfgs_no_weight_decay_a_tiny_train_loss_and_a_larger_test_loss():
    fitted = EpochRecord(1, 1.0, 1e-4, 1.0, 2.5, 0.8, 1.0)
    assert "the 600 training samples" in overfit_warning(TrainConfig(solver="lbfgs"), fitted, 600)
    assert overfit_warning(TrainConfig(solver="lbfgs", weight_decay=1e-3), fitted) is None
    assert overfit_warning(TrainConfig(), fitted) is None                                        # SGD
    assert overfit_warning(TrainConfig(solver="lbfgs"), EpochRecord(1, 1.0, 0.3, 0.9, 0.4, 0.9, 1.0)) is None
    assert overfit_warning(TrainConfig(solver="lbfgs"), EpochRecord(1, 1.0, 1e-3, 1.0, 0.005, 1.0, 1.0)) is None


def test_ctrl_c_mid_solve_says_to_start_again_not_to_resume(tmp_path, no_plots):
    import pytest

    from linnet.errors import RunInterrupted

    class StopSolve(Callback):
        def on_solver_step(self, iteration, loss):
            if iteration >= 3:
                raise KeyboardInterrupt

    with pytest.raises(RunInterrupted, match=r"^training stopped before epoch 1 of 1 was complete \(Ctrl-C\); .*cut "
                                             r"keeps its starting point\. L-BFGS solves in one go: start the run again$"):
        train(cfg(tmp_path, "cut"), callbacks=[StopSolve()], quiet=True)
