"""Cache load speed: a 1,000,000-row × 20-column taxi-shaped DataFrame of mixed dtypes.

Prints the time to load it from the disk cache (a fresh process-level cache, so the memory
layer misses) against ``pd.read_parquet`` of the same frame (target ≤ 0.5×) and against
``pickle.loads`` of its file, measured in this run, interleaved (a warm-up round, then the
median of the per-round ratios over ``--repeats`` rounds). The frame read back from each is
checked equal to the original, dtypes included (nullable ints, categorical, datetimes, floats),
and the cache's frame is written to in place (its columns are mapped, not copied, yet writable).
``--rows N`` runs smaller; ``--tmpfs`` keeps the files in ``/dev/shm``.
"""

from __future__ import annotations

import argparse
import pickle
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from jupyter_blocks.cache import Cache


def taxi_frame(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    start = np.datetime64("2021-01-01T00:00:00")
    pickup = start + rng.integers(0, 31 * 86400, rows).astype("timedelta64[s]")

    def nullable(high: int) -> pd.arrays.IntegerArray:
        values = pd.array(rng.integers(1, high, rows), dtype="Int64")
        values[rng.random(rows) < 0.05] = pd.NA
        return values

    return pd.DataFrame(
        {
            "VendorID": nullable(3),
            "lpep_pickup_datetime": pickup,
            "lpep_dropoff_datetime": pickup + rng.integers(60, 3600, rows).astype("timedelta64[s]"),
            "store_and_fwd_flag": pd.Categorical(rng.choice(["N", "Y"], rows)),
            "RatecodeID": nullable(6),
            "PULocationID": nullable(265),
            "DOLocationID": nullable(265),
            "passenger_count": nullable(7),
            "trip_distance": rng.gamma(2.0, 1.5, rows),
            "fare_amount": rng.gamma(3.0, 4.0, rows),
            "extra": rng.choice([0.0, 0.5, 1.0], rows),
            "mta_tax": np.full(rows, 0.5),
            "tip_amount": rng.gamma(1.0, 2.0, rows),
            "tolls_amount": np.zeros(rows),
            "ehail_fee": np.full(rows, np.nan),
            "improvement_surcharge": np.full(rows, 0.3),
            "total_amount": rng.gamma(3.0, 6.0, rows),
            "payment_type": nullable(5),
            "trip_type": nullable(3),
            "congestion_surcharge": rng.choice([0.0, 2.5], rows),
        }
    )


def timed(action) -> tuple[float, object]:
    started = time.perf_counter()
    value = action()
    return time.perf_counter() - started, value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--tmpfs", action="store_true")
    args = parser.parse_args()
    frame = taxi_frame(args.rows)
    with tempfile.TemporaryDirectory(dir="/dev/shm" if args.tmpfs else None) as folder:
        root = Path(folder)
        store, _ = timed(lambda: Cache.beside(root).put("k", frame, block="load"))
        parquet = root / "frame.parquet"
        frame.to_parquet(parquet)
        pickled = root / "frame.pkl"
        pickled.write_bytes(pickle.dumps(frame, protocol=5))

        def from_cache() -> pd.DataFrame:
            hit = Cache.beside(root).get("k")
            assert hit is not None and hit.layer == "disk"
            return hit.value

        loads = {"cache": from_cache, "read_parquet": lambda: pd.read_parquet(parquet),
                 "pickle": lambda: pickle.loads(pickled.read_bytes())}
        times: dict[str, list[float]] = {name: [] for name in loads}
        notes: list[str] = []
        for round_ in range(args.repeats + 1):
            for name, load in loads.items():
                seconds, back = timed(load)
                if round_:
                    times[name].append(seconds)
                else:  # the warm-up round checks what each one gives back
                    changed = {column: f"{frame[column].dtype} -> {back[column].dtype}"
                               for column in frame if back[column].dtype != frame[column].dtype}
                    pd.testing.assert_frame_equal(back, frame, check_exact=True,
                                                  check_dtype=not changed)
                    if name == "cache":  # loaded without a copy, and still writable in place
                        back.loc[0, "trip_distance"] = -1.0
                    if name == "read_parquet":
                        notes.extend(f"{column}: {change}" for column, change in changed.items())
                    else:
                        assert not changed, (name, changed)
                del back
        size = Cache.beside(root).disk.entries()[0].size
    ours = times["cache"]

    def ratio(other: str) -> float:
        return statistics.median(a / b for a, b in zip(ours, times[other], strict=True))

    print(f"{args.rows:,} rows × {frame.shape[1]} cols ({frame.dtypes.nunique()} dtypes, "
          f"verified equal after each round trip), interleaved, 1 warm-up + {args.repeats}, "
          "medians")
    print(f"  store in the disk cache:     {store:7.3f} s ({size / 1e6:.0f} MB entry)")
    for name, label in (("cache", "load from the disk cache"), ("read_parquet", "pd.read_parquet"),
                        ("pickle", "pickle.loads")):
        print(f"  {label + ':':<28} {statistics.median(times[name]):7.3f} s")
    if notes:
        print(f"  (Parquet does not keep every dtype: {'; '.join(notes)})")
    print(f"  ratio cache / read_parquet:  {ratio('read_parquet'):.2f}x (target ≤ 0.5x)")
    print(f"  ratio cache / pickle:        {ratio('pickle'):.2f}x")
    return 0 if ratio("read_parquet") <= 0.5 else 1


if __name__ == "__main__":
    sys.exit(main())
