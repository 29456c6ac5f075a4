"""Generate the small green-taxi sample the example notebook reads by default.

    python example_notebooks/make_sample.py [--scale 1.0] [--out example_notebooks/data]

Writes ``green_tripdata_2020-10.csv.gz`` and ``green_tripdata_2020-11.csv.gz`` with the real
20-column schema of the NYC TLC green taxi files and the dirt real downloads carry: rows without
VendorID, passenger_count, RatecodeID, payment_type and trip_type (street hails the vendors did not
report), zero passengers, zero distances and stray pickup dates (2009-01-01, the day before and
after the month). The output is deterministic (seeded, gzip without a timestamp), so regenerating
it leaves git clean.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import gzip
import io
import random
from pathlib import Path

COLUMNS = [
    "VendorID",
    "lpep_pickup_datetime",
    "lpep_dropoff_datetime",
    "store_and_fwd_flag",
    "RatecodeID",
    "PULocationID",
    "DOLocationID",
    "passenger_count",
    "trip_distance",
    "fare_amount",
    "extra",
    "mta_tax",
    "tip_amount",
    "tolls_amount",
    "ehail_fee",
    "improvement_surcharge",
    "total_amount",
    "payment_type",
    "trip_type",
    "congestion_surcharge",
]
MONTHS = {"2020-10": 3000, "2020-11": 2000}
SEED = 20201001
# Shares of dirty rows, close to what the real 2020 green files show.
UNREPORTED = 0.08  # no VendorID, passenger_count, RatecodeID, payment_type, trip_type
ZERO_PASSENGERS = 0.03
ZERO_DISTANCE = 0.04
STRAY_DATES = 4  # rows per month with a pickup outside the month


def _money(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") if value else "0"


def _trip(rng: random.Random, pickup: dt.datetime) -> list[str]:
    """One row; ``pickup`` is the pickup time."""
    distance = round(rng.gammavariate(1.6, 1.9), 2)
    minutes = max(1.0, distance * rng.uniform(2.5, 6.0) + rng.uniform(0, 6))
    dropoff = pickup + dt.timedelta(seconds=int(minutes * 60))
    unreported = rng.random() < UNREPORTED
    passengers = 0 if rng.random() < ZERO_PASSENGERS else rng.choice([1] * 12 + [2, 2, 3, 5, 6])
    if rng.random() < ZERO_DISTANCE:
        distance = 0.0
    ratecode = 5 if rng.random() < 0.03 else 1
    fare = round(2.5 + 2.5 * distance + 0.5 * minutes / 2, 1) if ratecode == 1 else 15.0
    extra = rng.choice([0, 0.5, 1])
    mta_tax = 0.5
    congestion = 2.75 if rng.random() < 0.3 else 0.0
    payment = 1 if rng.random() < 0.55 else 2
    tip = round(fare * rng.uniform(0.1, 0.25), 2) if payment == 1 else 0.0
    tolls = 6.12 if rng.random() < 0.02 else 0.0
    surcharge = 0.3
    total = round(fare + extra + mta_tax + tip + tolls + surcharge + congestion, 2)
    vendor = 2 if rng.random() < 0.85 else 1
    row = {
        "VendorID": str(vendor),
        "lpep_pickup_datetime": pickup.strftime("%Y-%m-%d %H:%M:%S"),
        "lpep_dropoff_datetime": dropoff.strftime("%Y-%m-%d %H:%M:%S"),
        "store_and_fwd_flag": "Y" if rng.random() < 0.01 else "N",
        "RatecodeID": str(ratecode),
        "PULocationID": str(rng.choice([7, 41, 42, 74, 75, 82, 95, 166, 244, rng.randint(1, 265)])),
        "DOLocationID": str(rng.randint(1, 265)),
        "passenger_count": str(passengers),
        "trip_distance": f"{distance:.2f}",
        "fare_amount": _money(fare),
        "extra": _money(extra),
        "mta_tax": _money(mta_tax),
        "tip_amount": _money(tip),
        "tolls_amount": _money(tolls),
        "ehail_fee": "",
        "improvement_surcharge": _money(surcharge),
        "total_amount": _money(total),
        "payment_type": str(payment),
        "trip_type": "2" if ratecode == 5 else "1",
        "congestion_surcharge": _money(congestion),
    }
    if unreported:
        for column in (
            "VendorID",
            "store_and_fwd_flag",
            "RatecodeID",
            "passenger_count",
            "payment_type",
            "trip_type",
            "congestion_surcharge",
        ):
            row[column] = ""
    return [row[column] for column in COLUMNS]


def month_rows(month: str, rows: int, rng: random.Random) -> list[list[str]]:
    """Return the rows of one month, roughly in pickup order, with stray dates mixed in."""
    start = dt.datetime.strptime(month, "%Y-%m")
    end = (start + dt.timedelta(days=32)).replace(day=1)
    span = int((end - start).total_seconds())
    pickups = sorted(start + dt.timedelta(seconds=rng.randrange(span)) for _ in range(rows))
    stray = [
        dt.datetime(2009, 1, 1, 0, rng.randrange(60), rng.randrange(60)),
        start - dt.timedelta(minutes=rng.randint(1, 50)),
        end + dt.timedelta(minutes=rng.randint(1, 50)),
        dt.datetime(2009, 1, 1, rng.randrange(24), rng.randrange(60)),
    ][:STRAY_DATES]
    table = [_trip(rng, pickup) for pickup in pickups]
    for pickup in stray:
        table.insert(rng.randrange(len(table)), _trip(rng, pickup))
    return table


def write_month(path: Path, table: list[list[str]]) -> None:
    """Write ``table`` as a gzip CSV with a fixed header and no timestamp in the gzip header."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(table)
    with (
        path.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as stream,
    ):
        stream.write(text.getvalue().encode("utf-8"))


def main(argv: list[str] | None = None) -> int:
    """Write the sample files; print what was written."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "data")
    parser.add_argument("--scale", type=float, default=1.0, help="Multiply the row counts.")
    options = parser.parse_args(argv)
    options.out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(SEED)
    for month, rows in MONTHS.items():
        path = options.out / f"green_tripdata_{month}.csv.gz"
        table = month_rows(month, int(rows * options.scale), rng)
        write_month(path, table)
        print(f"{path}: {len(table)} rows, {path.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
