"""Committed notebooks carry no outputs, and the strip helpers do what they say."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from anomaly_detector.devtools.notebook_hygiene import has_outputs, strip_outputs

JUPYTER_DIR = Path(__file__).resolve().parents[2] / "jupyter"
NOTEBOOKS = sorted(JUPYTER_DIR.glob("*.ipynb"))
# Without this the parametrized tests below would silently collect nothing.
assert NOTEBOOKS, f"no notebooks found in {JUPYTER_DIR}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_committed_notebook_has_no_outputs(path):
    assert not has_outputs(path), (
        f"{path.name} has outputs or execution counts; run: make clean-notebooks"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_starts_with_a_parameters_cell_and_runs_on_python3(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    first_code = next(cell for cell in notebook.cells if cell.cell_type == "code")
    assert "parameters" in first_code.metadata.get("tags", [])
    assert notebook.metadata.kernelspec.name == "python3"


def _dirty_notebook(path: Path) -> Path:
    code = new_code_cell(
        "x = 1\nx",
        execution_count=3,
        outputs=[new_output("execute_result", data={"text/plain": "1"}, execution_count=3)],
        metadata={"tags": ["parameters"], "execution": {"iopub.status.idle": "2026-01-01"}},
    )
    plain = new_code_cell("print('hi')", outputs=[new_output("stream", text="hi\n")])
    notebook = new_notebook(
        cells=[new_markdown_cell("# Title"), code, plain],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}},
    )
    nbformat.write(notebook, path)
    return path


def test_strip_outputs_clears_outputs_and_counts_but_keeps_ids_and_tags(tmp_path):
    path = _dirty_notebook(tmp_path / "dirty.ipynb")
    before = nbformat.read(path, as_version=4)
    assert has_outputs(path)

    assert strip_outputs(path) is True

    after = nbformat.read(path, as_version=4)
    nbformat.validate(after)
    assert not has_outputs(path)
    assert [cell.id for cell in after.cells] == [cell.id for cell in before.cells]
    assert [cell.source for cell in after.cells] == [cell.source for cell in before.cells]
    code = after.cells[1]
    assert code.outputs == [] and code.execution_count is None
    assert code.metadata == {"tags": ["parameters"]}
    assert after.cells[2].outputs == []
    assert after.metadata.kernelspec.name == "python3"


def test_strip_outputs_leaves_a_clean_file_untouched(tmp_path):
    path = _dirty_notebook(tmp_path / "dirty.ipynb")
    strip_outputs(path)
    content, mtime = path.read_bytes(), path.stat().st_mtime_ns

    assert strip_outputs(path) is False
    assert path.read_bytes() == content and path.stat().st_mtime_ns == mtime


def test_has_outputs_sees_a_lone_execution_count(tmp_path):
    path = tmp_path / "count.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("1", execution_count=1)]), path)
    assert has_outputs(path)


def test_committed_notebooks_stay_clean_under_strip(tmp_path):
    for source in NOTEBOOKS:
        copy = shutil.copy(source, tmp_path / source.name)
        assert strip_outputs(copy) is False


def test_command_line_checks_and_strips(tmp_path):
    path = _dirty_notebook(tmp_path / "dirty.ipynb")
    command = [sys.executable, "-m", "anomaly_detector.devtools.notebook_hygiene"]

    check = subprocess.run([*command, "--check", str(path)], capture_output=True, text=True)
    assert check.returncode == 1 and "has outputs" in check.stdout
    assert has_outputs(path)

    strip = subprocess.run([*command, str(path)], capture_output=True, text=True)
    assert strip.returncode == 0 and "outputs stripped" in strip.stdout
    assert not has_outputs(path)
    again = subprocess.run([*command, "--check", str(path)], capture_output=True, text=True)
    assert again.returncode == 0
