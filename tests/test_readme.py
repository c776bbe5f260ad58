"""The README's Python API example runs as written (in a scratch directory)."""
import contextlib
import io
import re
import sys
from pathlib import Path

from helpers_train import is_png, no_plots, read_json  # noqa: F401

README = Path(__file__).resolve().parents[1] / "README.md"


def python_api_example() -> str:
    text = README.read_text()
    section = text.split("\n## Python API\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 1, "expected one python block under '## Python API'"
    return blocks[0]


def test_the_python_api_example_runs(tmp_path, monkeypatch):
    code = python_api_example()
    assert "linnet.fit(" in code and "linnet.start_run(" in code
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(README) + ":Python API", "exec"), {"__name__": "readme_example"})
    lines = out.getvalue().splitlines()
    # print(history[-1].test_acc)  -- "about 0.93"
    assert float(lines[0]) >= 0.9
    # print(result.summary["test_acc"], result.summary["epochs"], result.run_dir)
    acc, epochs, run_dir = lines[-1].split(" ", 2)
    assert float(acc) >= 0.93
    assert int(epochs) == 25  # digits' 20 default epochs + 5 resumed
    assert Path(run_dir) == Path("runs") / "api-demo"
    # everything it wrote lies in the scratch directory
    assert is_png(tmp_path / "predictions.png")
    assert read_json(tmp_path / "runs" / "api-demo" / "summary.json")["test_acc"] == float(acc)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["predictions.png", "runs"]


def section_blocks(title: str) -> list[str]:
    section = README.read_text().split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def run_block(code: str, name: str) -> list[str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, f"{README}:{name}", "exec"), {"__name__": "readme_example"})
    return out.getvalue().splitlines()


def test_the_scikit_learn_example_runs_and_prints_what_it_says():
    import torch
    (code,) = section_blocks("scikit-learn estimators")
    assert "GridSearchCV(" in code and "partial_fit(" in code
    before = torch.get_num_threads()
    torch.set_num_threads(1)                  # small fits: see the README's note on threads
    try:
        lines = run_block(code, "scikit-learn")
    finally:
        torch.set_num_threads(before)
    # each print's output is the comment the README puts beside it
    promised = re.findall(r"^print\(.*\)\s+# (.*)$", code, re.M)
    assert len(promised) == 5
    assert lines == promised


def test_the_onnx_example_runs(tmp_path, monkeypatch, capsys, no_plots):
    from helpers_train import run_cli
    monkeypatch.chdir(tmp_path)
    assert run_cli(["train", "--dataset", "digits", "--name", "digits", "--epochs", "1", "--quiet"], capsys)[0] == 0
    assert run_cli(["export", "runs/digits", "--format", "onnx"], capsys)[0] == 0
    (code,) = section_blocks("Exporting to ONNX")
    namespace = {}
    exec(compile(code, f"{README}:onnx", "exec"), namespace)
    assert namespace["classes"] == [str(d) for d in range(10)]
    assert namespace["probabilities"].shape == (2, 10) and namespace["label"].shape == (2,)

def following_the_book_example() -> str:
    return section_blocks("Following the book")[0]


def test_the_following_the_book_example_runs_with_the_one_line_swapped(tmp_path, monkeypatch):
    from conftest import write_fake_dataset
    code = following_the_book_example()
    assert "from linnet import d2l" in code and "from d2l" not in code.split("#")[0]
    write_fake_dataset(tmp_path / "data" / "fashion-mnist", 300, 60)
    monkeypatch.setenv("LINNET_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(README) + ":Following the book", "exec"), {"__name__": "readme_book"})
    lines = out.getvalue().splitlines()
    assert sum(line.startswith("epoch ") for line in lines) == 10
    assert lines[-1].startswith("predict_ch3 (true -> predicted): ")
    assert is_png(tmp_path / "animator.png") and is_png(tmp_path / "predictions.png")
