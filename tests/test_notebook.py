"""linnet in a real Jupyter kernel (nbclient): figures inline, quiet runs quiet, no red warnings.

Needs the `notebook` extra (nbclient, nbformat, ipykernel): `make notebook-test` installs it and runs
this file; without it these tests skip. ipywidgets is not in the extra: the run's progress must
then stay silent rather than print tqdm's red "IProgress not found" warning.
"""
import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")


def run_notebook(tmp_path, *sources):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=300,
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    return [cell.outputs for cell in nb.cells]


def kinds(outputs):
    """Each output as (output_type, stream name or MIME types)."""
    return [(o.output_type, o.get("name") or tuple(sorted(o.get("data", {})))) for o in outputs]


def test_figures_show_inline_and_a_quiet_run_shows_nothing(tmp_path):
    runs = str(tmp_path / "runs")
    setup, grid, quiet, loud = run_notebook(
        tmp_path,
        "import torch, linnet\nfrom linnet.liveview import in_notebook\nprint(in_notebook())",
        "linnet.show_images(torch.rand(4, 1, 8, 8), 1, 4, titles=list('abcd'))",
        f"r = linnet.start_run(linnet.TrainConfig(dataset='digits', epochs=1, runs_dir={runs!r}, name='q'), quiet=True)",
        f"r = linnet.start_run(linnet.TrainConfig(dataset='digits', epochs=2, runs_dir={runs!r}, name='v'))",
    )
    assert [o.get("text") for o in setup] == ["True\n"]
    assert [o.output_type for o in grid] == ["execute_result"] and "image/png" in grid[0].data   # not "<Figure ...>"
    assert quiet == []                                                  # quiet: nothing printed, nothing drawn
    assert ("stream", "stderr") not in kinds(loud), [o.get("text") for o in loud]   # no red warning
    text = "".join(o.get("text", "") for o in loud if o.output_type == "stream")
    assert "epoch 1/2" in text and "epoch 2/2" in text
    images = [o for o in loud if o.output_type in ("display_data", "update_display_data") and "image/png" in o.data]
    assert images, kinds(loud)                                          # the live curves, in place
    assert not (tmp_path / "liveplot.png").exists()                    # in Jupyter no file is written
    assert (tmp_path / "runs" / "v" / "report.html").is_file()
