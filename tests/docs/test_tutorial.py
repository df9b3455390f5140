"""The tutorial notebook runs from top to bottom: every cell executes without an error."""

from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[2] / "docs" / "tutorials" / "first_screen.ipynb"


def test_the_notebook_is_committed_without_outputs():
    nbformat = pytest.importorskip("nbformat", reason="the notebook tools are the `docs` extra")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code
    assert all(not cell.outputs and cell.execution_count is None for cell in code)


@pytest.mark.slow
def test_every_cell_runs(tmp_path, monkeypatch, mirror_dir):
    nbformat = pytest.importorskip("nbformat", reason="the notebook tools are the `docs` extra")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    monkeypatch.setenv("SULFML_DATA_DIR", str(mirror_dir))  # the notebook reads the data from there
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's inline backend draws the plots as PNGs
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the notebook's temporary directory, removed with tmp_path
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    # a cell that raises stops the run with CellExecutionError, naming the cell and the traceback
    nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [output for output in outputs if output.get("output_type") == "error"]
    assert any(output.get("output_type") == "display_data" and "image/png" in output.get("data", {})
               for output in outputs), "the notebook draws its plots"
