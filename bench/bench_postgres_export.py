"""Benchmark: ``Postgres.export`` against the usual ways of loading a DataFrame into PostgreSQL.

Compares, on one taxi-shaped frame (default 1,000,000 rows x 18 columns) in one run:

- ours: ``Postgres.export(df, schema, table, if_exists="replace")`` (ADBC binary COPY of 4 MiB
  Arrow chunks over two connections into a staging table, swapped in with one transaction);
- ``DataFrame.to_sql`` with default arguments (on a subset, scaled: it is slow);
- one CSV buffer written by pandas + ``COPY ... FROM STDIN`` (what Mage's exporter does);
- raw ``adbc_ingest`` of the whole frame converted to Arrow at once.

Peak memory of our export is sampled from the process RSS every 5 ms in a thread and reported as
the growth above the RSS before the export, relative to the frame's own size
(``memory_usage(deep=True)``). Our export runs first so earlier runs' freed memory cannot hide its
growth.

Usage: python bench/bench_postgres_export.py [--rows N] [--repeat R] [--dsn postgresql://...]
"""

from __future__ import annotations

import argparse
import io
import statistics
import threading
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import psutil
import pyarrow as pa
import sqlalchemy

from jupyter_blocks.io.postgres import Postgres

SCHEMA = "bench_export"


def taxi_frame(rows: int, seed: int = 0) -> pd.DataFrame:
    """A frame shaped like the NYC green taxi data: 18 columns, nullable ints, timestamps, text."""
    rng = np.random.default_rng(seed)
    pickup = pd.Timestamp("2020-10-01") + pd.to_timedelta(
        rng.integers(0, 31 * 86400, rows), unit="s"
    )
    dropoff = pickup + pd.to_timedelta(rng.integers(60, 3600, rows), unit="s")

    def nullable(low: int, high: int, null_share: float) -> pd.arrays.IntegerArray:
        values = pd.array(rng.integers(low, high, rows), dtype="Int64")
        values[rng.random(rows) < null_share] = pd.NA
        return values

    def money(scale: float) -> np.ndarray:
        return np.round(rng.gamma(2.0, scale, rows), 2)

    return pd.DataFrame(
        {
            "vendor_id": nullable(1, 3, 0.05),
            "lpep_pickup_datetime": pickup,
            "lpep_dropoff_datetime": dropoff,
            "store_and_fwd_flag": pd.Series(rng.choice(["N", "Y"], rows), dtype="str"),
            "ratecode_id": nullable(1, 6, 0.05),
            "pu_location_id": nullable(1, 266, 0.0),
            "do_location_id": nullable(1, 266, 0.0),
            "passenger_count": nullable(0, 6, 0.05),
            "trip_distance": money(1.5),
            "fare_amount": money(6.0),
            "extra": money(0.5),
            "mta_tax": np.full(rows, 0.5),
            "tip_amount": money(1.0),
            "tolls_amount": money(0.1),
            "improvement_surcharge": np.full(rows, 0.3),
            "total_amount": money(8.0),
            "payment_type": nullable(1, 5, 0.05),
            "trip_type": nullable(1, 3, 0.05),
        }
    )


def timed(function: Callable[[], object]) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


class PeakRss:
    """Sample this process's RSS in a thread; ``growth`` is the peak above the starting RSS."""

    def __init__(self, interval: float = 0.005) -> None:
        self.process = psutil.Process()
        self.interval = interval
        self.start_rss = self.peak_rss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak_rss = max(self.peak_rss, self.process.memory_info().rss)
            time.sleep(self.interval)

    def __enter__(self) -> PeakRss:
        self.start_rss = self.peak_rss = self.process.memory_info().rss
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_rss = max(self.peak_rss, self.process.memory_info().rss)

    @property
    def growth(self) -> int:
        return self.peak_rss - self.start_rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of ours and raw ADBC")
    parser.add_argument("--to-sql-rows", type=int, default=100_000)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5432)
    parser.add_argument("--dbname", default="test")
    parser.add_argument("--user", default="postgres")
    args = parser.parse_args()

    import adbc_driver_postgresql.dbapi as adbc

    ours = Postgres(host=args.host, port=args.port, dbname=args.dbname, user=args.user)
    dsn = f"postgresql://{args.user}@{args.host}:{args.port}/{args.dbname}"
    engine = sqlalchemy.create_engine(
        f"postgresql+psycopg://{args.user}@{args.host}:{args.port}/{args.dbname}"
    )
    ours.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    ours.execute(f"CREATE SCHEMA {SCHEMA}")

    df = taxi_frame(args.rows)
    frame_bytes = int(df.memory_usage(index=False, deep=True).sum())
    print(f"frame: {len(df):,} rows x {df.shape[1]} columns, {frame_bytes / 2**20:.0f} MiB")

    with PeakRss() as peak:
        first = timed(lambda: ours.export(df, SCHEMA, "ours", if_exists="replace"))
    ours_times = [first]

    def raw_adbc() -> None:
        with adbc.connect(dsn) as connection, connection.cursor() as cursor:
            cursor.adbc_ingest(
                "raw_adbc",
                pa.Table.from_pandas(df, preserve_index=False),
                mode="replace",
                db_schema_name=SCHEMA,
            )
            connection.commit()

    adbc_times = [timed(raw_adbc)]
    for _ in range(args.repeat - 1):
        ours_times.append(timed(lambda: ours.export(df, SCHEMA, "ours", if_exists="replace")))
        adbc_times.append(timed(raw_adbc))

    def csv_copy() -> None:
        df.head(0).to_sql("csv_copy", engine, schema=SCHEMA, if_exists="replace", index=False)
        buffer = io.StringIO()
        df.to_csv(buffer, index=False, header=False)
        buffer.seek(0)
        with engine.begin() as connection:
            cursor = connection.connection.driver_connection.cursor()
            with cursor.copy(f"COPY {SCHEMA}.csv_copy FROM STDIN WITH (FORMAT csv)") as copy:
                copy.write(buffer.getvalue())

    csv_time = timed(csv_copy)
    subset = df.iloc[: args.to_sql_rows]
    to_sql_time = timed(
        lambda: subset.to_sql("to_sql", engine, schema=SCHEMA, if_exists="replace", index=False)
    ) * (len(df) / len(subset))

    count = ours.load(f"SELECT count(*) AS n FROM {SCHEMA}.ours")["n"][0]
    assert count == len(df), (count, len(df))
    ours_best, adbc_best = statistics.median(ours_times), statistics.median(adbc_times)
    rows = len(df)

    def line(label: str, seconds: float, note: str = "") -> None:
        print(f"{label:<34}{seconds:7.2f} s  {rows / seconds:>10,.0f} rows/s  {note}")

    line("ours (Postgres.export, replace)", ours_best, f"(median of {len(ours_times)})")
    line("raw adbc_ingest", adbc_best, f"(median of {len(adbc_times)})")
    line("pandas CSV buffer + COPY (Mage)", csv_time)
    scale = rows / len(subset)
    line(
        "DataFrame.to_sql default",
        to_sql_time,
        f"(measured on {len(subset):,} rows, scaled x{scale:.0f})",
    )
    print()
    print(f"ours vs CSV buffer + COPY: {csv_time / ours_best:5.2f}x faster   (target >= 5x)")
    print(f"ours vs raw adbc_ingest:   {adbc_best / ours_best:5.2f}x          (target >= 0.9x)")
    print(f"ours vs to_sql default:    {to_sql_time / ours_best:5.1f}x faster")
    print(
        f"peak RSS growth during our export: {peak.growth / 2**20:.0f} MiB = "
        f"{peak.growth / frame_bytes:.2f}x the frame's {frame_bytes / 2**20:.0f} MiB "
        f"(target < 1.5x)"
    )
    ours.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")


if __name__ == "__main__":
    main()
