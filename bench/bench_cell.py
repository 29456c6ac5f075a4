"""The notebook's edit-run loop: re-running a ``%%block`` cell whose upstream is cached.

In an IPython shell rooted in a folder with an ``io_config.yaml`` (as the example notebook's),
a block cell with one cached upstream is run ``--repeat`` times; each run plans the DAG, serves
the upstream from the memory cache, runs the block, shows its status line and records the run in
the run store (with its secrets hidden). Prints the time per cell run next to a plain cell
(``run_cell``) doing the same arithmetic.

Usage: python bench/bench_cell.py [--repeat N]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    previous = os.getcwd()
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)
        Path(folder, "io_config.yaml").write_text(
            "default:\n  DUCKDB_PATH: warehouse.duckdb\n"
            "dev:\n  POSTGRES_HOST: 127.0.0.1\n  POSTGRES_PASSWORD: not-a-real-one\n"
        )
        from IPython.testing.globalipapp import start_ipython

        shell = start_ipython()
        assert shell is not None
        with contextlib.redirect_stdout(io.StringIO()):
            shell.run_line_magic("load_ext", "jupyter_blocks")
            shell.run_cell_magic("block", "source", "list(range(10))")
            shell.run_cell_magic("block", "total -u source", "sum(source)")
            started = time.perf_counter()
            for _ in range(args.repeat):
                shell.run_cell_magic("block", "total -u source", "sum(source)")
            block = (time.perf_counter() - started) / args.repeat
            shell.run_cell("plain = list(range(10))")
            started = time.perf_counter()
            for _ in range(args.repeat):
                shell.run_cell("sum(plain)", silent=True)
            plain = (time.perf_counter() - started) / args.repeat
        os.chdir(previous)
    print(f"%%block cell re-run (upstream cached): {block * 1000:6.2f} ms")
    print(f"plain cell run:                        {plain * 1000:6.2f} ms")
    print(f"overhead of a block cell:              {(block - plain) * 1000:6.2f} ms")


if __name__ == "__main__":
    main()
