"""Run fixture notebooks in a real ipykernel (nbclient) and read their outputs."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).parents[1] / "notebooks"


def copy_notebook(name: str, folder: Path) -> Path:
    """Copy fixture ``name`` into ``folder`` (so its cache lives there); return the copy."""
    target = folder / f"{name}.ipynb"
    shutil.copy(NOTEBOOKS / f"{name}.ipynb", target)
    return target


def execute(path: Path, *, allow_errors: bool = True, extra_cells: list[str] | None = None,
            insert_at: int | None = None) -> Any:
    """Execute ``path`` in a new kernel with the notebook's folder as cwd; return the notebook."""
    notebook = nbformat.read(path, as_version=4)
    for offset, source in enumerate(extra_cells or []):
        cell = nbformat.v4.new_code_cell(source)
        position = len(notebook.cells) if insert_at is None else insert_at + offset
        notebook.cells.insert(position, cell)
    client = NotebookClient(notebook, timeout=120, kernel_name="python3",
                            allow_errors=allow_errors,
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    return notebook


def text_of(cell: Any) -> str:
    """Every text output of a cell (streams, plain-text results, displays, errors) joined."""
    parts = []
    for output in cell.get("outputs", []):
        if output["output_type"] == "stream":
            parts.append(output["text"])
        elif output["output_type"] in ("execute_result", "display_data"):
            data = output.get("data", {})
            parts.append(data.get("text/markdown") or data.get("text/plain", ""))
        elif output["output_type"] == "error":
            parts.append(f"{output['ename']}: {output['evalue']}\n" + "\n".join(
                output.get("traceback", [])))
    return "\n".join(parts)


def error_of(cell: Any) -> dict[str, Any] | None:
    """The cell's error output, if any."""
    return next((o for o in cell.get("outputs", []) if o["output_type"] == "error"), None)
