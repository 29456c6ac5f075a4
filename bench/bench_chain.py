"""Per-block cost of ``jupyter-blocks run`` at any DAG size: chains of trivial blocks.

Notebooks with a chain of 1, 1,000 and 10,000 trivial blocks (each adds one to its upstream's
output) run headless with ``-q`` as fresh processes, interleaved (one warm-up round, then
``--repeats`` counted rounds), with the cache and run store in the notebook's folder (a temporary
folder, or tmpfs with ``--tmpfs``). The cost per block at N blocks is the median of
``(time(N) - time(1)) / (N - 1)`` over the rounds (target: under 0.5 ms at 1,000 blocks), and the
ratio of that cost at 10,000 blocks to the cost at 1,000 says whether it grows with the DAG
(1.0 is linear). Each run's store is checked to hold every block.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_MS = 0.5


def chain_notebook(folder: Path, blocks: int) -> Path:
    sources = ["%%block b0\n0"]
    sources += [f"%%block b{i} -u b{i - 1}\nb{i - 1} + 1" for i in range(1, blocks)]
    cells = [{"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {},
              "outputs": [], "source": source} for i, source in enumerate(sources)]
    notebook = {"cells": cells, "nbformat": 4, "nbformat_minor": 5, "metadata": {}}
    path = folder / f"chain_{blocks}" / "chain.ipynb"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(notebook))
    return path


def command_line() -> list[str]:
    script = Path(sys.executable).with_name("jupyter-blocks")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "jupyter_blocks.cli"]


def timed(notebook: Path, blocks: int) -> float:
    started = time.perf_counter()
    subprocess.run([*command_line(), "run", str(notebook), "-q"], check=True,
                   cwd=notebook.parent)
    seconds = time.perf_counter() - started
    with sqlite3.connect(notebook.parent / ".jupyter_blocks" / "runs.sqlite") as db:
        (run_id,) = db.execute("SELECT run_id FROM jb_pipeline_runs ORDER BY started_at DESC "
                               "LIMIT 1").fetchone()
        (recorded,) = db.execute("SELECT count(*) FROM jb_block_runs WHERE run_id = ? AND "
                                 "status = 'ran'", (run_id,)).fetchone()
    assert recorded == blocks, f"{recorded} of {blocks} blocks recorded"
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sizes", type=int, nargs=2, default=(1000, 10000),
                        metavar=("SMALL", "LARGE"))
    parser.add_argument("--tmpfs", action="store_true",
                        help="put the notebooks, their caches and run stores under /dev/shm")
    args = parser.parse_args()
    small, large = args.sizes
    with tempfile.TemporaryDirectory(dir="/dev/shm" if args.tmpfs else None) as directory:
        folder = Path(directory)
        notebooks = {n: chain_notebook(folder, n) for n in (1, small, large)}
        times: dict[int, list[float]] = {n: [] for n in notebooks}
        for round_ in range(args.repeats + 1):
            for n, notebook in notebooks.items():
                seconds = timed(notebook, n)
                if round_:
                    times[n].append(seconds)
    per_block = {n: [(t - one) / (n - 1) * 1e3 for t, one in zip(times[n], times[1], strict=True)]
                 for n in (small, large)}
    where = "tmpfs" if args.tmpfs else "disk"
    print(f"chains of trivial blocks, jupyter-blocks run -q, fresh process each, interleaved, "
          f"1 warm-up + {args.repeats}, medians; cache and run store on {where}")
    for n in notebooks:
        print(f"  {n:>6,} blocks: {statistics.median(times[n]):7.3f} s")
    cost = {n: statistics.median(values) for n, values in per_block.items()}
    ratio = statistics.median(b / a for a, b in zip(per_block[small], per_block[large],
                                                     strict=True))
    print(f"  per block at {small:,}: {cost[small]:.3f} ms (target < {TARGET_MS} ms)")
    print(f"  per block at {large:,}: {cost[large]:.3f} ms")
    print(f"  per-block ratio {large:,} / {small:,}: {ratio:.2f} (1.00 is linear)")
    return 0 if cost[small] < TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
