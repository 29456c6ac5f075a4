"""Scheduler latency: how long after its tick a scheduled run starts (target: within 1 s).

Each sample starts a scheduler on a notebook with a daily 05:00 trigger, its clock set 2.5 s
before 05:00 (so the tick falls 2.5 s into the sample, as it would on a running scheduler), and
measures the time from the tick to the run's start as the run store records it. The run is a
process of its own, as in production. Prints the median and the worst of ``--samples`` (20).

    python bench/bench_scheduler.py [--samples 20]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from notebooks import write_notebook

from jupyter_blocks.history.store import RunStore
from jupyter_blocks.schedule.scheduler import Clock, Scheduler

SETTINGS = """%%pipeline
triggers:
- name: daily
  schedule_type: time
  schedule_interval: '@daily'
  start_time: 2024-01-01 05:00:00
  status: active
"""
BLOCK = """%%block load
@data_loader
def load(**kwargs):
    return [kwargs["ds"]]
"""
UTC = dt.timezone.utc
TICK = dt.datetime(2024, 1, 15, 5, 0, tzinfo=UTC)


def notebook(folder: Path) -> Path:
    return write_notebook(folder / "daily.ipynb", [SETTINGS, BLOCK])


def sample(folder: Path) -> float:
    """Seconds from the tick to the run's start."""
    path = notebook(folder)
    Scheduler([str(path)], clock=Clock(TICK - dt.timedelta(hours=1))).step()  # registered
    clock = Clock(TICK - dt.timedelta(seconds=2.5))
    scheduler = Scheduler([str(path)], clock=clock)
    stop = threading.Event()
    serving = threading.Thread(target=scheduler.serve, args=(stop,), kwargs={"poll": 1.0})
    serving.start()
    store = RunStore.for_directory(folder)
    deadline = time.time() + 30
    try:
        while time.time() < deadline:
            runs = store.list_runs()
            if runs and runs[0]["status"] != "running":
                started = dt.datetime.fromisoformat(runs[0]["started_at"]).timestamp()
                return started - clock.epoch(TICK)
            time.sleep(0.05)
        raise SystemExit("no run within 30 s")
    finally:
        stop.set()
        serving.join()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=20)
    args = parser.parse_args()
    latencies = []
    for _ in range(args.samples):
        with tempfile.TemporaryDirectory() as folder:
            latencies.append(sample(Path(folder)))
    median = statistics.median(latencies)
    print(f"scheduler latency over {args.samples} ticks: median {median * 1000:.0f} ms, "
          f"worst {max(latencies) * 1000:.0f} ms, best {min(latencies) * 1000:.0f} ms")
    print(f"median / target (1 s): {median:.3f} ({'ok' if median < 1 else 'MISSED'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
