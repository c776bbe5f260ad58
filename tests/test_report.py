"""report.html from a run directory: settings actually used, the record of the run, figures embedded."""
import html
import json
import re

import pytest
from helpers_train import report_figures
from matplotlib.figure import Figure

from linnet import report
from linnet.plots import save_figure

SETTINGS = {"model": "softmax", "impl": "fast", "solver": "sgd", "dataset": "digits", "epochs": None,
            "batch_size": None, "lr": None, "lr_decay": None, "lr_step": 1, "resize": None, "seed": 0}


def write_run(run_dir, config=None, summary=None, figures=("curves.png",)):
    run_dir.mkdir(parents=True, exist_ok=True)
    config = {"settings": dict(SETTINGS), "resolved": {"dataset": "digits", "epochs": 20, "batch_size": 16, "lr": 0.1},
              "lr_schedule": "constant", "device": "cpu", "created": "2026-11-21T22:30:00+0000",
              "argv": ["/home/u/.venv/bin/linnet", "train", "--dataset", "digits", "--name", "my run"],
              "dataset": {"name": "digits", "input_hw": [8, 8], "notes": []},
              "versions": {"linnet": "0.1.0", "torch": "2.9.0", "python": "3.12.1"}, **(config or {})}
    summary = {"test_acc": 0.95, "epochs": 20, "per_class_acc": [
        {"label": 0, "class": "T-shirt/top", "acc": 0.8, "samples": 5},
        {"label": 1, "class": "Ankle boot", "acc": 0.9, "samples": 5}], **(summary or {})}
    (run_dir / "config.json").write_text(json.dumps(config, sort_keys=True))
    (run_dir / "summary.json").write_text(json.dumps(summary, sort_keys=True))
    (run_dir / "metrics.csv").write_text("epoch,train_loss\n1,0.5\n2,0.25\n")
    for name in figures:
        fig = Figure(figsize=(1, 1))
        fig.subplots().plot([0, 1])
        save_figure(fig, run_dir / name)
    return report.write_report(run_dir).read_text()


def section(text: str, heading: str) -> str:
    """The part of the page under <h2>heading</h2>, up to the next heading."""
    return text.split(f"<h2>{heading}</h2>", 1)[1].split("<h2>", 1)[0]


def rows(text: str) -> dict:
    """The key/value rows of every table: {th: td}."""
    return {html.unescape(k): html.unescape(v) for k, v in re.findall(r"<tr><th>([^<]*)</th><td>([^<]*)</td></tr>", text)}


def test_settings_show_the_values_used_not_the_blank_defaults(tmp_path):
    text = write_run(tmp_path / "r")
    settings = rows(section(text, "Settings"))
    assert settings["batch_size"] == "16" and settings["lr"] == "0.1000" and settings["epochs"] == "20"
    assert settings["resize"] == "none (native 8x8)" and settings["lr schedule"] == "constant"
    assert settings["epochs trained"] == "20"


def test_the_command_line_created_time_and_versions_are_shown(tmp_path):
    text = write_run(tmp_path / "r")
    assert "<code>linnet train --dataset digits --name &#x27;my run&#x27;</code>" in text
    environment = rows(section(text, "Environment"))
    assert environment["created"] == "2026-11-21T22:30:00+0000" and "2026-11-21T22:30:00+0000" in text.split("<h2>")[0]
    assert environment["torch"] == "2.9.0" and environment["linnet"] == "0.1.0"


def test_resume_history_and_other_records_are_shown_as_recorded(tmp_path):
    history = [{"at_epoch": 5, "epochs": 30, "changes": {"lr": 0.05}, "argv": ["linnet", "train", "--resume", "r"]}]
    text = write_run(tmp_path / "r", config={"resumes": history, "plan": {"epochs": 30}})
    resumes = section(text, "Resumes")
    assert "<th>at_epoch</th>" in resumes and "<td>5</td>" in resumes
    assert html.escape(json.dumps({"lr": 0.05})) in resumes
    assert rows(section(text, "Plan")) == {"epochs": "30"}


def test_an_lbfgs_run_shows_the_solver_settings_instead_of_sgds(tmp_path):
    text = write_run(tmp_path / "r", config={"resolved": {"dataset": "digits", "solver": {
        "name": "lbfgs", "max_iter": 500, "tolerance_grad": 1e-6}}}, summary={"epochs": 1})
    settings = rows(section(text, "Settings"))
    assert settings["lbfgs max_iter"] == "500" and settings["lbfgs tolerance_grad"] == "1.000e-06"
    assert not {"batch_size", "lr", "epochs", "lr schedule"} & set(settings)
    assert settings["epochs trained"] == "1"


def test_per_class_accuracy_in_label_order(tmp_path):
    text = write_run(tmp_path / "r")
    assert text.index("T-shirt/top") < text.index("Ankle boot")        # label order, not alphabetical
    assert "<th>label</th><th>class</th><th>acc</th><th>samples</th>" in text


def test_an_older_per_class_mapping_still_reads(tmp_path):
    text = write_run(tmp_path / "r", summary={"per_class_acc": {"a": 0.5, "b": None}})
    assert "<td>a</td><td>0.5000</td>" in text and "<td>b</td><td></td>" in text


def test_figures_are_embedded_so_the_file_stands_alone(tmp_path):
    write_run(tmp_path / "r", figures=("curves.png", "weights.png"))
    assert report_figures(tmp_path / "r" / "report.html") == ["curves.png", "weights.png"]
    moved = tmp_path / "mailed.html"                                   # the page alone, elsewhere
    moved.write_text((tmp_path / "r" / "report.html").read_text())
    assert "src='curves.png'" not in moved.read_text() and moved.read_text().count("data:image/png;base64,") == 2


def test_a_config_without_the_newer_records_still_gives_a_report(tmp_path):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "config.json").write_text(json.dumps({"settings": {"lr": 0.3}}))
    (tmp_path / "r" / "summary.json").write_text(json.dumps({"epochs": 2}))
    text = report.write_report(tmp_path / "r").read_text()
    assert rows(section(text, "Settings"))["lr"] == "0.3000" and text.rstrip().endswith("</html>")


@pytest.mark.parametrize("argv, line", [(["/x/bin/linnet", "runs"], "linnet runs"), ([], None), ("linnet", None)])
def test_command_line(argv, line):
    assert report.command_line(argv) == line
