"""report.html: one self-contained page per run (summary, settings, figures, metrics, history).

The figures are embedded as base64 `data:` URIs, so the one file can be mailed, copied or opened
anywhere without the run directory and without a network. The Settings table shows the values
the run actually used (config.json's "resolved" values over the flags as given, an L-BFGS run's
solver settings instead of SGD's), and anything else a run recorded in config.json (its command
line, the history of resumes and changes) is shown as it is, so the page never lags the record.
"""
from __future__ import annotations

import base64
import csv
import html
import json
import shlex
from pathlib import Path

from linnet.atomic import atomic_write_text

FIGURES = (("curves.png", "Training curves"), ("predictions.png", "Predictions on test images (true / predicted)"),
           ("confusion.png", "Confusion matrix (test set)"), ("weights.png", "Learned weights per class (tables: the largest, by feature)"),
           ("scatter.png", "Synthetic data: feature x2 against the label"))

STYLE = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}img{max-width:100%}
figure{margin:1.5em 0}figcaption{font-weight:600;margin-bottom:.4em}code{background:#f3f3f3;padding:1px 4px}"""

# config.json keys shown in their own sections; any other key is shown as recorded ("Run record")
_SHOWN = {"settings", "resolved", "lr_schedule", "device", "dataset", "versions", "created", "argv"}
# SGD's settings, meaningless for a full-batch L-BFGS solve (its own settings are shown instead)
_SGD_ONLY = ("epochs", "batch_size", "lr", "lr_decay", "lr_step")


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4f}" if abs(v) >= 1e-3 or v == 0 else f"{v:.3e}"
    if isinstance(v, (list, dict)):
        return json.dumps(v)
    return "" if v is None else str(v)


def _table(rows: dict) -> str:
    body = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_fmt(v))}</td></tr>" for k, v in rows.items())
    return f"<table>{body}</table>"


def _grid(rows: list[dict]) -> str:
    """A list of records as one table, columns in order of first appearance."""
    columns = list(dict.fromkeys(k for r in rows for k in r))
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(r.get(c)))}</td>" for c in columns) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _any(value) -> str:
    """Whatever a run recorded: records as a table, a mapping as key/value rows, else the value."""
    if isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
        return _grid(value)
    if isinstance(value, dict):
        return _table(value)
    return f"<p>{html.escape(_fmt(value))}</p>"


def settings_used(config: dict, summary: dict) -> dict:
    """The settings in force: each flag as given, a default (None) replaced by its resolved value;
    for an L-BFGS run its solver settings instead of SGD's; the epochs planned and trained."""
    settings = dict(config.get("settings") or {})
    resolved = dict(config.get("resolved") or {})
    solver = resolved.pop("solver", None)
    for key, value in resolved.items():
        if settings.get(key) is None or key == "epochs":   # after a resume, the plan is the resolved value
            settings[key] = value
    if isinstance(solver, dict):
        for key in _SGD_ONLY:
            settings.pop(key, None)
        settings.update({f"{solver.get('name', 'solver')} {k}": v for k, v in solver.items() if k != "name"})
    if settings.get("resize") is None and isinstance(config.get("dataset"), dict) and config["dataset"].get("input_hw"):
        h, w = config["dataset"]["input_hw"]
        settings["resize"] = f"none (native {h}x{w})"
    if config.get("lr_schedule") and not isinstance(solver, dict):
        settings["lr schedule"] = config["lr_schedule"]
    if "epochs" in summary:
        settings["epochs trained"] = summary["epochs"]
    return settings


def command_line(argv) -> str | None:
    """The recorded sys.argv as a shell line, the program by its name (`linnet train ...`)."""
    if not isinstance(argv, list) or not argv:
        return None
    return shlex.join([Path(str(argv[0])).name, *map(str, argv[1:])])


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _per_class_rows(per_class) -> list[dict]:
    """summary.json's per-class accuracy in label order: rows (today), or an older {class: acc} map."""
    if isinstance(per_class, dict):
        return [{"class": c, "acc": a} for c, a in per_class.items()]
    return [{k: r.get(k) for k in ("label", "class", "acc", "samples") if k in r} for r in per_class or []
            if isinstance(r, dict)]


def write_report(run_dir: str | Path) -> Path:
    run_dir = Path(run_dir)
    summary = json.loads((run_dir / "summary.json").read_text())
    config = json.loads((run_dir / "config.json").read_text())
    per_class = _per_class_rows(summary.pop("per_class_acc", None))
    name = html.escape(run_dir.name)
    dataset = config.get("dataset", {}) if isinstance(config.get("dataset"), dict) else {}
    about = " · ".join(html.escape(str(p)) for p in (dataset.get("name") or summary.get("dataset"),
                                                       config.get("created")) if p)
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>linnet run {name}</title>",
             f"<style>{STYLE}</style></head><body><h1>linnet run <code>{name}</code></h1>",
             f"<p>{about}</p>" if about else "", "<h2>Summary</h2>", _table(summary)]
    notes = dataset.get("notes")
    if notes:  # what loading the user's data did (resized images, constant columns, a held-out split)
        parts += ["<h2>Data notes</h2>", "<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>"]
    if per_class:
        parts += ["<h2>Per-class test accuracy</h2>", _grid(per_class)]
    for file, caption in FIGURES:
        if (run_dir / file).is_file():
            parts.append(f"<figure><figcaption>{caption}</figcaption><img src='{_data_uri(run_dir / file)}' "
                         f"data-file='{file}' alt='{caption} ({file})'></figure>")   # data-file: which PNG it is
    metrics = run_dir / "metrics.csv"
    if metrics.is_file():
        rows = list(csv.reader(metrics.read_text().splitlines()))
        if rows:
            head = "".join(f"<th>{html.escape(h)}</th>" for h in rows[0])
            body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(_num(c)))}</td>" for c in r) + "</tr>"
                           for r in rows[1:])
            parts += ["<h2>Metrics per epoch</h2>", f"<table><tr>{head}</tr>{body}</table>"]
    command = command_line(config.get("argv"))
    parts += ["<h2>Settings</h2>", _table(settings_used(config, summary))]
    if command:
        parts.append(f"<p>Command line: <code>{html.escape(command)}</code></p>")
    for key, value in config.items():   # the resume history and whatever else the run recorded
        if key not in _SHOWN:
            parts += [f"<h2>{html.escape(key.replace('_', ' ').capitalize())}</h2>", _any(value)]
    environment = {**(config.get("versions") or {}), "device": config.get("device"), "created": config.get("created")}
    parts += ["<h2>Environment</h2>", _table(environment), "</body></html>"]
    return atomic_write_text(run_dir / "report.html", "\n".join(p for p in parts if p))


def _num(cell: str):
    try:
        return int(cell)
    except ValueError:
        try:
            return float(cell)
        except ValueError:
            return cell
