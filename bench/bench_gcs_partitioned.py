"""Benchmark: a date-partitioned Parquet dataset written to a GCS emulator.

Compares, on the same taxi-shaped frame (default 1,000,000 rows over 95 pickup dates):

- ours: ``GoogleCloudStorage.export(df, "gs://bucket/prefix", partition_cols=["lpep_pickup_date"])``
  (partitions encoded and uploaded concurrently, one media request each, over the
  google-cloud-storage client's authorized session);
- one ``pyarrow.parquet.write_to_dataset`` call through ``pyarrow.fs.GcsFileSystem``.

A fresh emulator (``gcp-storage-emulator``, in memory) is started on a free loopback port for
each measurement; both writers run ``--repeat`` times, alternating; medians are compared. Each
result is read back and its row count checked.

Usage: python bench/bench_gcs_partitioned.py [--rows N] [--days D] [--repeat R]
"""

from __future__ import annotations

import argparse
import datetime as dt
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).parent))
from bench_postgres_export import taxi_frame

from jupyter_blocks.io import GoogleCloudStorage

BUCKET = "bench"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_emulator(port: int) -> subprocess.Popen[bytes]:
    executable = Path(sys.executable).parent / "gcp-storage-emulator"
    process = subprocess.Popen(
        [
            str(executable),
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--default-bucket",
            BUCKET,
            "--in-memory",
            "-q",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/storage/v1/b", timeout=1)
            return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("gcp-storage-emulator did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=95)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    df = taxi_frame(args.rows)
    offsets = pd.to_timedelta(df.index.to_numpy() % args.days, unit="D")
    df["lpep_pickup_datetime"] = df["lpep_pickup_datetime"].dt.normalize().min() + offsets
    df["lpep_pickup_date"] = df["lpep_pickup_datetime"].dt.date
    table = pa.Table.from_pandas(df, preserve_index=False)
    print(
        f"frame: {len(df):,} rows x {df.shape[1]} columns, "
        f"{df['lpep_pickup_date'].nunique()} pickup dates"
    )

    def measure(writer: str) -> float:
        # A fresh emulator per measurement: its in-memory store slows as it fills up.
        port = free_port()
        process = start_emulator(port)
        endpoint = f"http://127.0.0.1:{port}"
        try:
            ours = GoogleCloudStorage(endpoint=endpoint)
            ours.export(df.head(10), f"gs://{BUCKET}/warm-up.parquet")  # client and connection
            if writer == "ours":
                started = time.perf_counter()
                ours.export(df, f"gs://{BUCKET}/green", partition_cols=["lpep_pickup_date"])
                elapsed = time.perf_counter() - started
            else:
                filesystem = pafs.GcsFileSystem(
                    anonymous=True,
                    scheme="http",
                    endpoint_override=f"127.0.0.1:{port}",
                    retry_time_limit=dt.timedelta(seconds=10),
                )
                started = time.perf_counter()
                pq.write_to_dataset(
                    table,
                    f"{BUCKET}/green",
                    partition_cols=["lpep_pickup_date"],
                    filesystem=filesystem,
                )
                elapsed = time.perf_counter() - started
            back = ours.load(f"gs://{BUCKET}/green")
            assert len(back) == len(df), (writer, len(back), len(df))
            return elapsed
        finally:
            process.terminate()
            process.wait(timeout=10)

    ours_times, arrow_times = [], []
    for _ in range(args.repeat):
        ours_times.append(measure("ours"))
        arrow_times.append(measure("write_to_dataset"))

    ours_median, arrow_median = statistics.median(ours_times), statistics.median(arrow_times)
    print(f"ours (GoogleCloudStorage.export)  {ours_median:6.2f} s  (median of {len(ours_times)})")
    print(
        f"pq.write_to_dataset               {arrow_median:6.2f} s  (median of {len(arrow_times)})"
    )
    print(f"ours vs write_to_dataset: {arrow_median / ours_median:.2f}x faster   (target >= 2x)")


if __name__ == "__main__":
    main()
