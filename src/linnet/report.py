"""report.html: one self-contained page per run (summary, settings, figures, metrics); no network needed.

Figures are linked by relative path, so the page opens from the run directory in any browser, and
only files that exist are referenced.
"""
from __future__ import annotations

import csv
import html
import json
from pathlib import Path

from linnet.atomic import atomic_write_text

FIGURES = (("curves.png", "Training curves"), ("predictions.png", "Predictions on test images (true / predicted)"),
           ("confusion.png", "Confusion matrix (test set)"), ("weights.png", "Learned weights per class (tables: the largest, by feature)"),
           ("scatter.png", "Synthetic data: feature x2 against the label"))

STYLE = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}img{max-width:100%}
figure{margin:1.5em 0}figcaption{font-weight:600;margin-bottom:.4em}"""


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4f}" if abs(v) >= 1e-3 or v == 0 else f"{v:.3e}"
    if isinstance(v, (list, dict)):
        return json.dumps(v)
    return "" if v is None else str(v)


def _table(rows: dict) -> str:
    body = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_fmt(v))}</td></tr>" for k, v in rows.items())
    return f"<table>{body}</table>"


def write_report(run_dir: str | Path) -> Path:
    run_dir = Path(run_dir)
    summary = json.loads((run_dir / "summary.json").read_text())
    config = json.loads((run_dir / "config.json").read_text())
    per_class = summary.pop("per_class_acc", None)
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>linnet run {html.escape(run_dir.name)}</title>",
             f"<style>{STYLE}</style></head><body><h1>linnet run <code>{html.escape(run_dir.name)}</code></h1>",
             "<h2>Summary</h2>", _table(summary)]
    notes = config.get("dataset", {}).get("notes")
    if notes:  # what loading the user's data did (resized images, constant columns, a held-out split)
        parts += ["<h2>Data notes</h2>", "<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>"]
    if per_class:
        parts += ["<h2>Per-class test accuracy</h2>", _table(per_class)]
    for name, caption in FIGURES:
        if (run_dir / name).is_file():
            parts.append(f"<figure><figcaption>{caption}</figcaption><img src='{name}' alt='{caption}'></figure>")
    metrics = run_dir / "metrics.csv"
    if metrics.is_file():
        rows = list(csv.reader(metrics.read_text().splitlines()))
        head = "".join(f"<th>{html.escape(h)}</th>" for h in rows[0])
        body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(_num(c)))}</td>" for c in r) + "</tr>" for r in rows[1:])
        parts += ["<h2>Metrics per epoch</h2>", f"<table><tr>{head}</tr>{body}</table>"]
    parts += ["<h2>Settings</h2>", _table(config.get("settings", {})),
              "<h2>Environment</h2>", _table({**config.get("versions", {}), "device": config.get("device")}),
              "</body></html>"]
    return atomic_write_text(run_dir / "report.html", "\n".join(parts))


def _num(cell: str):
    try:
        return int(cell)
    except ValueError:
        try:
            return float(cell)
        except ValueError:
            return cell
