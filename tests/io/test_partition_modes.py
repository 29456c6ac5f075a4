"""Partitioned exports: replace the dataset, replace the partitions written, or append; atomically.

The local lake is tested here without services; the same modes on Cloud Storage are in
``test_io_gcs.py``. A reader sees the old dataset whole or the new one whole, and a failed or
killed export leaves the old one whole.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest

from jupyter_blocks.core.errors import ConfigError
from jupyter_blocks.core.files import is_temporary
from jupyter_blocks.io import DuckDB, LocalFiles, partitioned


def trips(days: list[int], per_day: int = 2, fare: float = 1.0) -> pd.DataFrame:
    return pd.DataFrame([{"day": dt.date(2020, 10, day), "trip": day * 100 + i, "fare": fare}
                         for day in days for i in range(per_day)])


def counts(lake: LocalFiles) -> dict[int, int]:
    return {day.day: n for day, n in lake.load("green").groupby("day").size().items()}


def files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_replace_is_the_default_and_leaves_only_the_new_rows(tmp_path):
    lake = LocalFiles(tmp_path)
    lake.export(trips([1, 2, 3]), "green", partition_cols=["day"])
    lake.export(trips([1], per_day=1), "green", partition_cols=["day"])
    assert counts(lake) == {1: 1}
    assert files(tmp_path) == ["green/day=2020-10-01/part-0000.parquet"]


def test_replace_partitions_rewrites_the_partitions_written_and_keeps_the_others(tmp_path):
    lake = LocalFiles(tmp_path)
    lake.export(trips([1, 2, 3]), "green", partition_cols=["day"])
    lake.export(trips([2, 4], per_day=1), "green", partition_cols=["day"],
                mode="replace_partitions")
    assert counts(lake) == {1: 2, 2: 1, 3: 2, 4: 1}


def test_append_adds_files_beside_the_existing_ones(tmp_path):
    lake = LocalFiles(tmp_path)
    lake.export(trips([1, 2]), "green", partition_cols=["day"], mode="append")
    lake.export(trips([2, 3], per_day=1), "green", partition_cols=["day"], mode="append")
    assert counts(lake) == {1: 2, 2: 3, 3: 1}
    assert "green/day=2020-10-02/part-0001.parquet" in files(tmp_path)


def test_modes_are_checked(tmp_path):
    lake = LocalFiles(tmp_path)
    with pytest.raises(ConfigError, match="did you mean `replace_partitions`"):
        lake.export(trips([1]), "green", partition_cols=["day"], mode="replace_partition")
    with pytest.raises(ConfigError, match="a single file is always replaced"):
        lake.export(trips([1]), "one.parquet", mode="append")


def test_a_failed_export_leaves_the_previous_dataset_whole(tmp_path, monkeypatch):
    lake = LocalFiles(tmp_path)
    lake.export(trips([1, 2, 3]), "green", partition_cols=["day"])
    before = files(tmp_path)
    calls = 0
    encode = partitioned.to_bytes

    def failing(table, path):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        if calls == 2:
            raise OSError("disk full")
        return encode(table, path)

    monkeypatch.setattr(partitioned, "to_bytes", failing)
    for mode in ("replace", "replace_partitions", "append"):
        calls = 0
        with pytest.raises(OSError, match="disk full"):
            lake.export(trips([1, 4], fare=9.0), "green", partition_cols=["day"], mode=mode,
                        max_workers=1)
        assert files(tmp_path) == before  # nothing of the new version, no staging left
        assert counts(lake) == {1: 2, 2: 2, 3: 2}


_KILLED_WRITER = """
import sys, time
import pandas as pd
from jupyter_blocks.io import LocalFiles, partitioned

encode = partitioned.to_bytes
def slow(table, path):
    print("writing", flush=True)
    time.sleep(600)
partitioned.to_bytes = slow
frame = pd.DataFrame({"day": ["2020-10-09"], "trip": [1], "fare": [1.0]})
LocalFiles(sys.argv[1]).export(frame, "green", partition_cols=["day"], mode=sys.argv[2])
"""


@pytest.mark.parametrize("mode", ["replace", "append"])
def test_kill_9_mid_export_leaves_the_previous_dataset_and_the_next_export_sweeps(tmp_path,
                                                                                 mode):
    lake = LocalFiles(tmp_path)
    lake.export(trips([1, 2]), "green", partition_cols=["day"])
    before = files(tmp_path / "green")
    writer = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(tmp_path), mode],
                              stdout=subprocess.PIPE, text=True)
    assert writer.stdout is not None and writer.stdout.readline() == "writing\n"
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    assert files(tmp_path / "green") == before and counts(lake) == {1: 2, 2: 2}
    assert [p.name for p in tmp_path.iterdir() if is_temporary(p.name)]  # its staging folder
    lake.export(trips([3]), "green", partition_cols=["day"], mode=mode)
    assert not [p.name for p in tmp_path.iterdir() if is_temporary(p.name)]


def test_readers_see_one_whole_version_while_exports_replace_it(tmp_path):
    """Each version has one fare everywhere and its own days: a mix would show two fares."""
    lake = LocalFiles(tmp_path)
    versions = [trips(list(range(1 + v % 3, 12 + v % 5)), per_day=3, fare=float(v))
                for v in range(12)]
    lake.export(versions[0], "green", partition_cols=["day"])
    done = threading.Event()
    seen: list[tuple[float, ...]] = []
    problems: list[BaseException] = []

    def export_all() -> None:
        try:
            for version in versions[1:]:
                lake.export(version, "green", partition_cols=["day"])
        finally:
            done.set()

    def read(reader) -> None:  # type: ignore[no-untyped-def]
        while not done.is_set():
            try:
                frame = reader()
            except BaseException as exc:
                problems.append(exc)
                return
            fares = tuple(sorted(set(frame["fare"])))
            seen.append(fares)
            expected = versions[int(fares[0])]
            if len(fares) != 1 or len(frame) != len(expected):
                problems.append(AssertionError(f"a mixed dataset: {fares}, {len(frame)} rows"))
                return

    warehouse = DuckDB(tmp_path / "w.duckdb")

    def through_duckdb() -> pd.DataFrame:
        warehouse.load_from_lake(tmp_path / "green", "main", "green")
        return warehouse.load("SELECT * FROM green")

    readers = [threading.Thread(target=read, args=(lambda: lake.load("green"),)),
               threading.Thread(target=read, args=(through_duckdb,))]
    writer = threading.Thread(target=export_all)
    for thread in (*readers, writer):
        thread.start()
    for thread in (writer, *readers):
        thread.join(timeout=120)
    assert not problems, problems[0]
    assert len(seen) > 2
    assert counts(lake) == {day: 3 for day in range(1 + 11 % 3, 12 + 11 % 5)}


def test_without_an_atomic_exchange_the_swap_is_two_renames_and_a_stop_between_is_recovered(
        tmp_path, monkeypatch):
    from jupyter_blocks.io import folders

    monkeypatch.setattr(folders, "exchange", lambda first, second: False)
    lake = LocalFiles(tmp_path)
    lake.export(trips([1, 2]), "green", partition_cols=["day"])
    lake.export(trips([3]), "green", partition_cols=["day"])
    assert counts(lake) == {3: 2}
    assert not [p for p in tmp_path.iterdir() if is_temporary(p.name)]

    renames = 0
    rename = os.rename

    def stopped(source, destination):  # type: ignore[no-untyped-def]
        nonlocal renames
        renames += 1
        if renames >= 2:  # the old version is aside, the new one not yet in: a kill -9
            raise KeyboardInterrupt
        rename(source, destination)

    monkeypatch.setattr(os, "rename", stopped)
    with pytest.raises(KeyboardInterrupt):
        lake.export(trips([4]), "green", partition_cols=["day"])
    monkeypatch.setattr(os, "rename", rename)
    assert not (tmp_path / "green").exists()
    assert counts(lake) == {4: 2}  # a reader puts the complete new version in place
    lake.export(trips([5]), "green", partition_cols=["day"], mode="append")
    assert counts(lake) == {4: 2, 5: 2}
    renames = 0

    def interrupted_once(source, destination):  # type: ignore[no-untyped-def]
        nonlocal renames
        renames += 1
        if renames == 2:  # Ctrl-C between the renames: the writer finishes the swap
            raise KeyboardInterrupt
        rename(source, destination)

    monkeypatch.setattr(os, "rename", interrupted_once)
    with pytest.raises(KeyboardInterrupt):
        lake.export(trips([4, 5]), "green", partition_cols=["day"])
    monkeypatch.setattr(os, "rename", rename)
    assert counts(lake) == {4: 2, 5: 2}
    assert files(tmp_path) == ["green/day=2020-10-04/part-0000.parquet",
                               "green/day=2020-10-05/part-0000.parquet"]
