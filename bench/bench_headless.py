"""Headless start-to-finish: ``jupyter-blocks run`` against a plain Python script doing the same.

A 3-block notebook (read the taxi CSV -> keep trips with passengers -> write Parquet) run as a
fresh process, as a user or a scheduler would, interleaved with a plain script that does the same
work with pandas (one warm-up round, then ``--repeats`` counted rounds). Prints the median wall
time and peak RSS of each, and the medians of the per-round ratios against the script (targets:
at most 1.2x in time and in memory). The run is measured with ``-q`` (the target) and with its
default output (progress lines and the summary table), with the cache and run store in the
notebook's folder: a temporary folder, or one on tmpfs with ``--tmpfs``.

The data is the head of the NYC yellow taxi trips of January 2021 (``--csv``, default
``$TAXI_CSV`` or the shared data folder); without it a taxi-shaped CSV of the same size is made.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET = 1.2
#: The shared data folder beside the checkout (``../shared/data``).
DEFAULT_CSV = str(Path(__file__).resolve().parents[2] / "shared" / "data"
                  / "yellow_tripdata_2021-01_head.csv")
ROWS = 22_792

CELLS = [
    ("%load_ext jupyter_blocks\nimport pandas as pd", []),
    ('source = "trips.csv"\ndestination = "trips.parquet"\nmin_passengers = 1', ["parameters"]),
    ('%%block load --type data_loader\npd.read_csv(kwargs["source"])', []),
    ('%%block clean -u load\nload[load.passenger_count >= kwargs["min_passengers"]]', []),
    ("%%block write -u clean --type data_exporter\n@data_exporter\n"
     "def write(clean, *args, **kwargs):\n    clean.to_parquet(kwargs['destination'])\n"
     "    return len(clean)", []),
]

SCRIPT = """\
import pandas as pd

source = {source!r}
destination = "script.parquet"
min_passengers = 1
load = pd.read_csv(source)
clean = load[load.passenger_count >= min_passengers]
clean.to_parquet(destination)
"""


def synthetic_csv(path: Path) -> None:
    generator = random.Random(7)
    lines = ["VendorID,tpep_pickup_datetime,passenger_count,trip_distance,PULocationID,"
             "DOLocationID,fare_amount,total_amount"]
    lines += [f"{generator.randint(1, 2)},2021-01-01 00:{i % 60:02d}:00,"
              f"{generator.randint(0, 4)},{generator.uniform(0, 20):.2f},"
              f"{generator.randint(1, 265)},{generator.randint(1, 265)},"
              f"{generator.uniform(3, 80):.2f},{generator.uniform(3, 90):.2f}"
              for i in range(ROWS)]
    path.write_text("\n".join(lines) + "\n")


def make_folder(folder: Path, csv: Path) -> tuple[Path, Path]:
    cells = [{"cell_type": "code", "execution_count": None, "id": f"cell-{i}",
              "metadata": {"tags": tags} if tags else {}, "outputs": [],
              "source": source.replace('"trips.csv"', json.dumps(str(csv)))
              .splitlines(keepends=True)}
             for i, (source, tags) in enumerate(CELLS, start=1)]
    notebook = {"cells": cells, "nbformat": 4, "nbformat_minor": 5,
                "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                            "language": "python"}}}
    path = folder / "trips.ipynb"
    path.write_text(json.dumps(notebook, indent=1))
    script = folder / "trips.py"
    script.write_text(SCRIPT.format(source=str(csv)))
    return path, script


def measured(command: list[str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one fresh process running ``command``."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    errors = process.stderr.read().decode() if process.stderr else ""
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode}):\n{errors}")
    return seconds, usage.ru_maxrss / 1024


def command_line() -> list[str]:
    script = Path(sys.executable).with_name("jupyter-blocks")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "jupyter_blocks.cli"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--csv", default=os.environ.get("TAXI_CSV", DEFAULT_CSV))
    parser.add_argument("--tmpfs", action="store_true",
                        help="put the notebook, its cache and run store under /dev/shm")
    args = parser.parse_args()
    base = "/dev/shm" if args.tmpfs else None
    with tempfile.TemporaryDirectory(dir=base) as directory:
        folder = Path(directory)
        csv = Path(args.csv)
        if not csv.is_file():
            print(f"{csv} not found: using a synthetic taxi-shaped CSV of {ROWS:,} rows")
            csv = folder / "trips.csv"
            synthetic_csv(csv)
        notebook, script = make_folder(folder, csv)
        commands = {
            "plain script": [sys.executable, str(script)],
            "jupyter-blocks run -q": [*command_line(), "run", str(notebook), "-q"],
            "jupyter-blocks run": [*command_line(), "run", str(notebook)],
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        memory: dict[str, list[float]] = {name: [] for name in commands}
        for round_ in range(args.repeats + 1):
            for name, command in commands.items():
                seconds, peak = measured(command, folder)
                if round_:
                    times[name].append(seconds)
                    memory[name].append(peak)
        shutil.rmtree(folder / ".jupyter_blocks", ignore_errors=True)
    rows = sum(1 for _ in csv.open()) - 1 if csv.is_file() else ROWS
    where = "tmpfs" if args.tmpfs else "disk"
    print(f"read CSV ({rows:,} rows) -> filter -> Parquet; fresh process each, interleaved, "
          f"1 warm-up + {args.repeats}, medians; cache and run store on {where}")
    script_times, script_memory = times["plain script"], memory["plain script"]
    for name in commands:
        print(f"  {name:<24} {statistics.median(times[name]):6.3f} s  "
              f"{statistics.median(memory[name]):6.0f} MB peak RSS")
    failed = False
    for name in commands:
        if name == "plain script":
            continue
        ratio = statistics.median(a / b for a, b in zip(times[name], script_times, strict=True))
        peak = statistics.median(a / b for a, b in zip(memory[name], script_memory, strict=True))
        target = name.endswith("-q")
        note = f" (target <= {TARGET}x)" if target else ""
        print(f"  {name} / plain script: time {ratio:.2f}x, peak RSS {peak:.2f}x{note}")
        failed |= target and (ratio > TARGET or peak > TARGET)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
