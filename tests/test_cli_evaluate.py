"""`linnet evaluate RUN_DIR --json` (the printed lines: test_cli_train.py)."""
import json

from helpers_train import read_json, run_cli, small_digits_run  # noqa: F401


def test_json_has_the_results_and_per_class_accuracy_in_label_order(small_digits_run, capsys):
    rc, out, err = run_cli(["evaluate", small_digits_run, "--json"], capsys)
    assert rc == 0 and err == ""
    result = json.loads(out)
    summary = read_json(small_digits_run / "summary.json")
    assert abs(result["test_acc"] - summary["test_acc"]) < 1e-9 and result["samples"] == 360 and result["epochs"] == 3
    assert result["dataset"] == "digits" and result["impl"] == "fast"
    assert [r["label"] for r in result["per_class_acc"]] == list(range(10))
    assert result["per_class_acc"] == summary["per_class_acc"]        # the same table as the run's summary
    rc, text, _ = run_cli(["evaluate", small_digits_run], capsys)
    assert rc == 0 and f"test acc     {result['test_acc']:.4f}" in text
