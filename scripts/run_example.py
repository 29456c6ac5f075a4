"""Run an example notebook's blocks headless in a real kernel and print what each block did.

    python scripts/run_example.py [NOTEBOOK]   (default: example_notebooks/trips_per_day.ipynb)

The executed notebook is written to example_notebooks/output/, the block cache to
.jupyter_blocks/ beside the notebook.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    """Execute the notebook, print the blocks' status lines and the last output."""
    path = Path(argv[0]) if argv else ROOT / "example_notebooks" / "trips_per_day.ipynb"
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    failed = False
    try:
        client.execute()
    except CellExecutionError as exc:
        failed = True
        print(str(exc).strip().splitlines()[-1], file=sys.stderr)
    for cell in notebook.cells:
        if cell.cell_type != "code" or not cell.source.startswith("%%block"):
            continue
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if output["output_type"] == "display_data" and "text/plain" in data:
                print(data["text/plain"])
    last = notebook.cells[-1].get("outputs", [])
    result = next((o["data"]["text/plain"] for o in last if o["output_type"] == "execute_result"),
                  None)
    if result:
        print(f"\nOutput of the last block:\n{result}")
    out_dir = path.parent / "output"
    out_dir.mkdir(exist_ok=True)
    nbformat.write(notebook, out_dir / path.name)
    print(f"\nExecuted notebook: {out_dir / path.name}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
