"""Cache load speed: a 1,000,000-row × 20-column taxi-shaped DataFrame.

Prints the time to load it from the disk cache (a fresh process-level cache, so the memory
layer misses) against ``pd.read_parquet`` of the same frame (target ≤ 0.5×) and against pickle,
all measured in this run (median of several repeats). ``--rows N`` runs smaller.
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


def median_time(action, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    frame = taxi_frame(args.rows)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        store = median_time(lambda: Cache.beside(root).put("k", frame, block="load"), 1)
        parquet = root / "frame.parquet"
        frame.to_parquet(parquet)
        pickled = root / "frame.pkl"
        pickled.write_bytes(pickle.dumps(frame, protocol=5))

        def from_cache() -> None:
            hit = Cache.beside(root).get("k")
            assert hit is not None and hit.layer == "disk"

        back = Cache.beside(root).get("k")
        assert back is not None
        pd.testing.assert_frame_equal(back.value, frame)
        ours = median_time(from_cache, args.repeats)
        read_parquet = median_time(lambda: pd.read_parquet(parquet), args.repeats)
        read_pickle = median_time(lambda: pickle.loads(pickled.read_bytes()), args.repeats)
        size = Cache.beside(root).disk.entries()[0].size
    print(f"{args.rows:,} rows × {frame.shape[1]} cols, median of {args.repeats}")
    print(f"  store in the disk cache:     {store:7.3f} s ({size / 1e6:.0f} MB entry)")
    print(f"  load from the disk cache:    {ours:7.3f} s")
    print(f"  pd.read_parquet:             {read_parquet:7.3f} s")
    print(f"  pickle.loads:                {read_pickle:7.3f} s")
    print(f"  ratio cache / read_parquet:  {ours / read_parquet:.2f}x (target ≤ 0.5x)")
    print(f"  ratio cache / pickle:        {ours / read_pickle:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
