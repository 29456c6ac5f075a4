"""Headless executors against ``inline``: threads on I/O-bound branches, processes on CPU-bound.

- I/O: one loader fanning out to ``--branches`` exporters that each wait ``--wait`` seconds
  (standing in for an upload or a database load, which release the GIL), joined by one block;
  ``inline`` against ``threads``.
- CPU: one branch per CPU, each a pure-Python loop of about ``--cpu-seconds``; ``inline``
  against ``processes`` (worker start-up included).

Each runs ``--repeat`` times through ``run_target`` with the run store off; medians are
compared. A 200-block chain is also timed inline and with threads, to show what the thread pool
costs per block when nothing can overlap.

Usage: python bench/bench_executor.py [--branches N] [--wait S] [--repeat R]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from jupyter_blocks.runner.run import run_target


def write_notebook(path: Path, cells: list[str]) -> Path:
    path.write_text(
        json.dumps(
            {
                "cells": [
                    {
                        "cell_type": "code",
                        "execution_count": None,
                        "id": f"c{i}",
                        "metadata": {},
                        "outputs": [],
                        "source": source,
                    }
                    for i, source in enumerate(cells)
                ],
                "metadata": {
                    "kernelspec": {
                        "name": "python3",
                        "display_name": "Python 3",
                        "language": "python",
                    }
                },
                "nbformat": 4,
                "nbformat_minor": 5,
            }
        )
    )
    return path


def fan_out(folder: Path, branches: int, wait: float) -> Path:
    cells = ["%load_ext jupyter_blocks\nimport time", "%%block source\nlist(range(100))"]
    names = [f"export_{i}" for i in range(branches)]
    cells += [f"%%block {name} -u source\ntime.sleep({wait})\nlen(source)" for name in names]
    cells.append(f"%%block joined -u {' '.join(names)}\n{' + '.join(names)}")
    return write_notebook(folder / "fan_out.ipynb", cells)


def cpu_fan_out(folder: Path, branches: int, loops: int) -> Path:
    cells = ["%load_ext jupyter_blocks", "%%block source\n1"]
    names = [f"crunch_{i}" for i in range(branches)]
    cells += [f"%%block {name} -u source\nsum(i * i for i in range({loops}))" for name in names]
    cells.append(f"%%block joined -u {' '.join(names)}\n{' + '.join(names)}")
    return write_notebook(folder / "cpu_fan_out.ipynb", cells)


def loops_for(seconds: float) -> int:
    started = time.perf_counter()
    sum(i * i for i in range(1_000_000))
    return int(1_000_000 * seconds / (time.perf_counter() - started))


def chain(folder: Path, length: int) -> Path:
    cells = ["%load_ext jupyter_blocks", "%%block b0\n0"]
    cells += [f"%%block b{i} -u b{i - 1}\nb{i - 1} + 1" for i in range(1, length)]
    return write_notebook(folder / "chain.ipynb", cells)


def timed(notebook: Path, executor: str) -> float:
    options: dict[str, object] = {"executor": executor, "echo": False, "record": False}
    if executor == "processes":
        options["workers"] = os.cpu_count() or 1
    started = time.perf_counter()
    finished = run_target(str(notebook), **options)
    elapsed = time.perf_counter() - started
    assert finished.result.ok, finished.result.failed
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--branches", type=int, default=8)
    parser.add_argument("--wait", type=float, default=0.25)
    parser.add_argument("--cpu-seconds", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    cpus = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as folder:
        fan = fan_out(Path(folder), args.branches, args.wait)
        long_chain = chain(Path(folder), 200)
        cpu = cpu_fan_out(Path(folder), cpus, loops_for(args.cpu_seconds))
        results = {}
        for name, notebook, other in (
            ("fan-out", fan, "threads"),
            ("chain", long_chain, "threads"),
            ("cpu", cpu, "processes"),
        ):
            for executor in ("inline", other):
                times = [timed(notebook, executor) for _ in range(args.repeat)]
                results[name, executor] = statistics.median(times)
    print(
        f"fan-out of {args.branches} branches waiting {args.wait:g} s each "
        f"(median of {args.repeat}):"
    )
    print(f"  inline   {results['fan-out', 'inline']:6.2f} s")
    print(f"  threads  {results['fan-out', 'threads']:6.2f} s")
    ratio = results["fan-out", "inline"] / results["fan-out", "threads"]
    print(f"  threads vs inline: {ratio:.1f}x faster")
    print(f"{cpus} CPU-bound branches of about {args.cpu_seconds:g} s each:")
    print(f"  inline     {results['cpu', 'inline']:6.2f} s")
    print(f"  processes  {results['cpu', 'processes']:6.2f} s")
    print(
        f"  processes vs inline: {results['cpu', 'inline'] / results['cpu', 'processes']:.1f}x"
        " faster"
    )
    per_block = {e: results["chain", e] / 200 * 1e6 for e in ("inline", "threads")}
    print(
        f"200-block chain: inline {per_block['inline']:.0f} us/block, "
        f"threads {per_block['threads']:.0f} us/block"
    )


if __name__ == "__main__":
    main()
