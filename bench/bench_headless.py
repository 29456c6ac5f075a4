"""Headless start-to-finish: ``jupyter-blocks run`` vs ``papermill`` on the same notebook.

A 3-block notebook (load a 20,000-row CSV -> filter -> write Parquet), each tool run as a fresh
process, as a user or a scheduler would. Prints both wall times (median of several repeats) and
the ratio (target: at most 0.3x papermill's time).
"""

from __future__ import annotations

import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPEATS = 3
ROWS = 20_000
TARGET = 0.3

CELLS = [
    ("%load_ext jupyter_blocks\nimport pandas as pd", []),
    ('source = "trips.csv"\ndestination = "trips.parquet"\nmin_passengers = 1', ["parameters"]),
    ('%%block load --type data_loader\npd.read_csv(kwargs["source"])', []),
    ('%%block clean -u load\nload[load.passenger_count >= kwargs["min_passengers"]]', []),
    ("%%block write -u clean --type data_exporter\n@data_exporter\n"
     "def write(clean, *args, **kwargs):\n    clean.to_parquet(kwargs['destination'])\n"
     "    return len(clean)", []),
]


def make_notebook(folder: Path) -> Path:
    generator = random.Random(7)
    lines = ["trip_id,passenger_count,fare"]
    lines += [f"{i},{generator.randint(0, 4)},{generator.uniform(3, 80):.2f}"
              for i in range(ROWS)]
    (folder / "trips.csv").write_text("\n".join(lines) + "\n")
    cells = [{"cell_type": "code", "execution_count": None, "id": f"cell-{i}",
              "metadata": {"tags": tags} if tags else {}, "outputs": [],
              "source": source.splitlines(keepends=True)}
             for i, (source, tags) in enumerate(CELLS, start=1)]
    notebook = {"cells": cells, "nbformat": 4, "nbformat_minor": 5,
                "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                            "language": "python"}}}
    path = folder / "trips.ipynb"
    path.write_text(json.dumps(notebook, indent=1))
    return path


def timed(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> int:
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        notebook = make_notebook(folder)
        ours = [sys.executable, "-m", "jupyter_blocks.cli", "run", str(notebook), "-q"]
        theirs = [sys.executable, "-m", "papermill", str(notebook), str(folder / "out.ipynb"),
                  "--cwd", str(folder), "--no-progress-bar"]
        headless = statistics.median(timed(ours, folder) for _ in range(REPEATS))
        papermill = statistics.median(timed(theirs, folder) for _ in range(REPEATS))
    ratio = headless / papermill
    print(f"jupyter-blocks run: {headless:.2f}s  papermill: {papermill:.2f}s  "
          f"ratio: {ratio:.2f}x (target <= {TARGET}x)")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
