"""R blocks: what the bridge to R costs, per call and for a mixed-type frame each way.

- per call: a trivial block (``transform <- function(df_1, ...) 1L``) on a warm worker, and a
  call that starts its worker (the first R block of a thread); ``Rscript`` started once per
  call is shown for comparison (what a process per call would cost before any work).
- a ``--rows``-row frame of every type that crosses (nullable ints, ints, floats with NaN,
  strings with None, booleans with NA, bools, dates, naive and UTC datetimes, a categorical):
  to R (``function(df_1, ...) NULL``), and back (``function(df_1, ...) df_1`` less the trip to
  R), against the same frame written to CSV and read back by pandas in memory.

Medians of ``--repeats`` (≥ 5) after one warm-up call.

Usage: python bench/bench_r.py [--rows N] [--repeats R]
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from jupyter_blocks.io.r import r_available, run_r_block, stop_workers


def mixed_frame(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    counts = pd.array(rng.integers(0, 1000, rows), dtype="Int64")
    counts[::7] = pd.NA
    distances = rng.gamma(2.0, 1.5, rows)
    distances[::11] = np.nan
    vendors = np.array(["CMT", "VTS", "DDS", "Zoë"], dtype=object)[rng.integers(0, 4, rows)]
    vendors[::13] = None
    flags = pd.array(rng.random(rows) < 0.5, dtype="boolean")
    flags[::5] = pd.NA
    pickup = pd.Series(np.datetime64("2021-01-01T00:00:00", "us")
                       + rng.integers(0, 10**12, rows).astype("timedelta64[us]"))
    pickup[::9] = pd.NaT
    first = dt.date(2021, 1, 1)
    days = pd.Series([first + dt.timedelta(days=int(d)) for d in rng.integers(0, 3000, rows)],
                     dtype=object)
    days[::17] = None
    payment = pd.Categorical(rng.choice(["card", "cash", "other"], rows),
                             categories=["other", "cash", "card"])
    return pd.DataFrame({
        "passenger_count": counts,
        "trip_distance": distances,
        "vendor": vendors,
        "store_and_fwd": flags,
        "location": rng.integers(1, 265, rows),
        "paid": rng.random(rows) < 0.9,
        "day": days,
        "pickup": pickup,
        "pickup_utc": pickup.dt.tz_localize("UTC"),
        "payment": payment,
    })


def median_time(action: Callable[[], Any], repeats: int) -> float:
    action()  # warm-up
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run(source: str, inputs: list[Any]) -> Any:
    return run_r_block(source, "transformer", inputs, {"execution_date": dt.datetime(2021, 1, 1)},
                       label="block `bench`", first_line=2)


def cold_call(repeats: int) -> float:
    """A call that has to start its worker (as the first R block of a thread does)."""
    times = []
    for _ in range(repeats):
        stop_workers()
        started = time.perf_counter()
        run("transform <- function(df_1, ...) 1L", [None])
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    version = r_available()
    if version is None:
        print("R is not installed: apt-get install r-base-core", file=sys.stderr)
        return 2
    repeats = max(args.repeats, 5)
    frame = mixed_frame(args.rows)

    trivial = median_time(lambda: run("transform <- function(df_1, ...) 1L", [None]), repeats)
    python_call = median_time(lambda: (lambda df_1, **kwargs: 1)(None), repeats)
    rscript = shutil.which("Rscript") or "Rscript"
    per_process = median_time(lambda: subprocess.run([rscript, "-e", "invisible(0)"], check=True),
                              repeats)
    cold = cold_call(repeats)

    to_r = median_time(lambda: run("transform <- function(df_1, ...) NULL", [frame]), repeats)
    back_value = run("transform <- function(df_1, ...) df_1", [frame])
    pd.testing.assert_frame_equal(back_value, frame)
    round_trip = median_time(lambda: run("transform <- function(df_1, ...) df_1", [frame]),
                             repeats)
    back = round_trip - to_r

    def csv_write() -> str:
        return frame.to_csv(index=False)

    text = csv_write()

    def csv_read() -> pd.DataFrame:
        return pd.read_csv(io.StringIO(text), dtype={"passenger_count": "Int64",
                                                     "store_and_fwd": "boolean",
                                                     "payment": "category"},
                           parse_dates=["pickup", "pickup_utc"])

    csv_out = median_time(csv_write, repeats)
    csv_in = median_time(csv_read, repeats)

    print(f"{version}; median of {repeats} after a warm-up")
    print("per call:")
    print(f"  trivial R block, warm worker:   {trivial * 1e3:8.2f} ms "
          f"({trivial / python_call:,.0f}x a Python function call)")
    print(f"  first call, starting a worker:  {cold * 1e3:8.1f} ms")
    print(f"  Rscript started per call:       {per_process * 1e3:8.1f} ms "
          f"({per_process / trivial:.0f}x the warm worker)")
    print(f"{args.rows:,} rows x {frame.shape[1]} columns (every type), dtypes kept:")
    print(f"  to R:                           {to_r:8.3f} s "
          f"({to_r / csv_out:.2f}x pandas to_csv, {csv_out:.3f} s)")
    print(f"  back from R:                    {back:8.3f} s "
          f"({back / csv_in:.2f}x pandas read_csv, {csv_in:.3f} s)")
    print(f"  round trip:                     {round_trip:8.3f} s "
          f"({round_trip / (csv_out + csv_in):.2f}x pandas CSV out and in)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
