"""Backfill overhead and parallel speed-up, measured in one run.

1. Overhead: a backfill of 365 daily intervals of a 3-block pipeline (each run recorded in the
   run store, its blocks' outputs cached), against the floor: a plain Python loop calling the
   same three functions for each day. Prints the overhead per interval (target: < 20 ms).
2. Parallelism: 24 intervals of a pipeline whose loader waits 0.2 s (I/O-bound) with
   ``--parallel 1`` and ``--parallel 4``. Prints the speed-up (target: >= 3x).

    python bench/bench_backfill.py [--days 365] [--store URL]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

from notebooks import write_notebook

from jupyter_blocks.project.loading import load_pipeline
from jupyter_blocks.schedule.backfill import backfill

LOAD = """%%block load
@data_loader
def load(**kwargs):
    import time
    time.sleep(float(kwargs.get("wait") or 0))
    return [kwargs["ds"]] * 10
"""
CLEAN = """%%block clean -u load
@transformer
def clean(rows, **kwargs):
    return [row for row in rows if row]
"""
EXPORT = """%%block export -u clean
@data_exporter
def export(rows, **kwargs):
    return None
"""


def notebook(folder: Path, wait: float) -> Path:
    return write_notebook(folder / "daily.ipynb", [LOAD, CLEAN, EXPORT],
                          parameters=f"wait = {wait}")


def floor(days: int) -> float:
    """The same work as a plain script: three calls per day."""
    def load(ds: str) -> list[str]:
        return [ds] * 10

    def clean(rows: list[str]) -> list[str]:
        return [row for row in rows if row]

    def export(rows: list[str]) -> None:
        return None

    started = time.perf_counter()
    day = dt.date(2020, 1, 1)
    for offset in range(days):
        export(clean(load((day + dt.timedelta(days=offset)).isoformat())))
    return time.perf_counter() - started


def timed_backfill(path: Path, days: int, parallel: int, store: str | None) -> float:
    pipeline = load_pipeline(path)
    start = dt.datetime(2020, 1, 1)
    started = time.perf_counter()
    result = backfill(pipeline, start, start + dt.timedelta(days=days), "day",
                      parallel=parallel, store=store, alerts=False)
    seconds = time.perf_counter() - started
    if not result.ok or result.count("success") != days:
        sys.exit(f"backfill failed: {[i.error for i in result.intervals if i.error][:3]}")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--parallel-days", type=int, default=24)
    parser.add_argument("--store", help="Run store URL (default: SQLite beside the notebook)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as warm, tempfile.TemporaryDirectory() as quick, \
            tempfile.TemporaryDirectory() as slow_1, tempfile.TemporaryDirectory() as slow_4:
        timed_backfill(notebook(Path(warm), 0.0), 5, 1, None)  # imports, first store
        fast = notebook(Path(quick), 0.0)
        total = timed_backfill(fast, args.days, 1, args.store)
        plain = min(floor(args.days) for _ in range(5))
        per_interval = (total - plain) / args.days * 1000
        print(f"backfill of {args.days} daily intervals, 3 blocks, --parallel 1: {total:.2f} s; "
              f"plain loop {plain * 1000:.2f} ms")
        print(f"overhead per interval: {per_interval:.1f} ms (target < 20 ms): "
              f"{'ok' if per_interval < 20 else 'MISSED'}")
        one = timed_backfill(notebook(Path(slow_1), 0.2), args.parallel_days, 1, args.store)
        four = timed_backfill(notebook(Path(slow_4), 0.2), args.parallel_days, 4, args.store)
        ratio = one / four
        print(f"{args.parallel_days} I/O-bound intervals: --parallel 1 {one:.2f} s, "
              f"--parallel 4 {four:.2f} s: {ratio:.2f}x (target >= 3x): "
              f"{'ok' if ratio >= 3 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
