"""The `linnet` console script (linnet.cli.run): main() then os._exit, skipping the interpreter's
teardown. What it must not lose: the exit code, buffered output, files of the run directory."""
import json
import subprocess
import sys
from pathlib import Path

import pytest


def linnet(*argv, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "linnet", *map(str, argv)], capture_output=True,
                          text=True, timeout=120, **kw)


def test_a_run_exits_0_with_all_its_output_and_files(tmp_path):
    out = linnet("train", "--dataset", "digits", "--epochs", 2, "--runs-dir", tmp_path, "--name", "a")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("epoch 1/2") and lines[-1] == f"report: {tmp_path / 'a' / 'report.html'}"
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["epochs"] == 2 and 0 < summary["test_acc"] <= 1
    assert (tmp_path / "a" / "report.html").read_text().rstrip().endswith("</html>")


def test_an_error_keeps_its_exit_code_and_message(tmp_path):
    out = linnet("train", "--dataset", "digits", "--lr", "-1", "--runs-dir", tmp_path)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.strip().startswith("linnet train: error:") and "lr" in out.stderr


def test_output_larger_than_a_pipe_buffer_arrives_whole():
    # 200 kB printed (buffered: stdout is a pipe), then os._exit: run() must flush it first.
    script = "import linnet.cli as c; c.main = lambda: print('x' * 200_000, end='') or 3; c.run()"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 3 and out.stdout == "x" * 200_000


def test_a_reader_that_leaves_early_is_not_an_error(tmp_path):
    argv = ["train", "--dataset", "digits", "--epochs", "20", "--runs-dir", str(tmp_path), "--name", "p"]
    proc = subprocess.Popen([sys.executable, "-m", "linnet", *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.read(5) == b"epoch"
    proc.stdout.close()                                               # like `linnet train ... | head -c 5`
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()


def test_the_console_script_is_run_and_keeps_the_exit_code():
    from importlib.metadata import entry_points
    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "linnet"]
    assert script.value == "linnet.__main__:main"
    exe = Path(sys.executable).with_name("linnet")
    if not exe.exists():
        pytest.skip(f"no installed console script next to {sys.executable}")
    out = subprocess.run([str(exe), "train", "--epochs", "0"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "epochs" in out.stderr


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["runs", "/nonexistent"], ["train", "--help"], ["train", "--lr", "-1"], ["predict"],
                                  ["data", "--dataset", "nope"], ["export", "--help"], ["export", "r", "--format", "x"]])
def test_help_and_usage_errors_load_no_heavy_library(argv):
    # argument parsing must answer before torch (~2 s), numpy, matplotlib or scikit-learn are imported
    script = ("import sys, linnet.cli as c\n"
              "try:\n    c.main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
              "heavy = sorted(m for m in ('torch', 'numpy', 'matplotlib', 'sklearn', 'pooch', 'PIL', 'onnx',\n"
              "                           'tensorboard') if m in sys.modules)\n"
              "print('heavy:', heavy)")
    out = subprocess.run([sys.executable, "-c", script, *argv], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "heavy: []", out.stdout + out.stderr


def test_import_linnet_is_lazy_and_every_public_name_resolves():
    script = ("import sys, linnet\nassert 'torch' not in sys.modules, 'import linnet loaded torch'\n"
              "missing = [n for n in linnet.__all__ if getattr(linnet, n, None) is None]\nprint(missing)")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stderr


def test_python_dash_m_linnet_is_the_command():
    out = linnet("--help")
    assert out.returncode == 0 and out.stdout.startswith("usage: linnet")


def test_version_answers_without_loading_torch():
    out = linnet("--version")
    from linnet import __version__
    assert out.returncode == 0 and out.stdout == f"linnet {__version__}\n" and out.stderr == ""


def test_python_dash_m_linnet_runs_a_command(tmp_path):
    out = linnet("runs", tmp_path)
    assert out.returncode == 0 and out.stdout == f"no runs in {tmp_path}\n"
