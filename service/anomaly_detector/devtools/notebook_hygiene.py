"""Notebook hygiene: notebooks are committed without outputs or execution counts.

Outputs hold data, large plotly payloads and run-specific noise that make diffs
unreadable. ``strip_outputs`` removes them and keeps what the author wrote: sources,
cell ids and metadata such as the ``parameters`` tag.

    make clean-notebooks        # strip jupyter/*.ipynb in place
    python -m anomaly_detector.devtools.notebook_hygiene --check jupyter/*.ipynb  # exit 1 if dirty
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import nbformat
import typer

from anomaly_detector.files import atomic_write

# Cell metadata that records a run rather than the author's intent (JupyterLab's timings,
# papermill's status), removed along with the outputs.
RUN_METADATA_KEYS = ("execution", "papermill")


def _read(path: str | Path) -> nbformat.NotebookNode:
    return nbformat.read(str(path), as_version=nbformat.NO_CONVERT)


def _cell_has_outputs(cell: nbformat.NotebookNode) -> bool:
    if any(key in cell.get("metadata", {}) for key in RUN_METADATA_KEYS):
        return True
    if cell.get("cell_type") != "code":
        return False
    return bool(cell.get("outputs")) or cell.get("execution_count") is not None


def has_outputs(path: str | Path) -> bool:
    """Whether any cell of the notebook at ``path`` holds outputs, a count or run metadata."""
    return any(_cell_has_outputs(cell) for cell in _read(path).cells)


def strip_outputs(path: str | Path) -> bool:
    """Clear outputs, execution counts and run metadata of the notebook at ``path``, in place.

    Cell ids, sources, tags and other metadata stay. The file is rewritten atomically,
    and only when something changed.

    Returns:
        True when the file was changed.
    """
    notebook = _read(path)
    changed = False
    for cell in notebook.cells:
        if not _cell_has_outputs(cell):
            continue
        changed = True
        for key in RUN_METADATA_KEYS:
            cell.get("metadata", {}).pop(key, None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    if changed:
        atomic_write(path, lambda handle: nbformat.write(notebook, handle), mode="w")
    return changed


def main(
    paths: Annotated[list[Path], typer.Argument(help="Notebooks (.ipynb) to clean.")],
    check: Annotated[
        bool, typer.Option("--check", help="Change nothing; exit 1 if any notebook has outputs.")
    ] = False,
) -> None:
    """Strip outputs and execution counts from notebooks (or, with --check, find them)."""
    dirty = [path for path in paths if has_outputs(path)]
    for path in dirty:
        if check:
            typer.echo(f"{path}: has outputs (run: make clean-notebooks)")
        else:
            strip_outputs(path)
            typer.echo(f"{path}: outputs stripped")
    if check and dirty:
        raise typer.Exit(code=1)


if __name__ == "__main__":
    typer.run(main)
