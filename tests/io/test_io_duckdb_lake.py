from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow as pa
import pytest

from jupyter_blocks.core.errors import ConnectorError
from jupyter_blocks.io import DuckDB, LocalFiles

EVIL = "x; drop table y"


def trips(days: int = 3, per_day: int = 2, first: int = 1) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "day": [dt.date(2020, 10, first + d) for d in range(days) for _ in range(per_day)],
            "trip": pd.array(
                [d * 10 + i for d in range(days) for i in range(per_day)], dtype="Int64"
            ),
            "vendor": ["v"] * (days * per_day),
        }
    )


def test_duckdb_export_modes_quoted_names_and_params(tmp_path):
    warehouse = DuckDB(tmp_path / "w" / "warehouse.duckdb")
    assert warehouse.export(trips(), "raw", EVIL) == 6
    warehouse.export(trips(1), "raw", EVIL, if_exists="append")
    with pytest.raises(ConnectorError, match="exists"):
        warehouse.export(trips(), "raw", EVIL, if_exists="fail")
    back = warehouse.load(
        f'SELECT count(*) AS n FROM raw."{EVIL}" WHERE day >= $since',
        {"since": dt.date(2020, 10, 2)},
    )
    assert back["n"].tolist() == [4]
    warehouse.export(pa.table({"only": [1]}), "raw", EVIL)
    assert warehouse.load(f'SELECT * FROM raw."{EVIL}"').to_dict("list") == {"only": [1]}


def test_duckdb_nullable_ints_come_back_nullable(tmp_path):
    warehouse = DuckDB(tmp_path / "w.duckdb")
    warehouse.export(pd.DataFrame({"n": pd.array([1, None], dtype="Int64")}), "main", "t")
    assert warehouse.load("SELECT n FROM t")["n"].dtype == "Int64"


def test_duckdb_with_config_and_errors(tmp_path):
    (tmp_path / "io_config.yaml").write_text("default:\n  DUCKDB_PATH: db/warehouse.duckdb\n")
    warehouse = DuckDB.with_config(directory=tmp_path)
    assert warehouse.path == str(tmp_path / "db" / "warehouse.duckdb")
    with pytest.raises(ConnectorError, match="duckdb profile 'default': query failed"):
        warehouse.load("SELECT * FROM missing_table")


def test_lake_single_file_and_partitioned_dataset(tmp_path):
    lake = LocalFiles(tmp_path / "lake")
    lake.export(trips(), "one.parquet")
    pd.testing.assert_frame_equal(lake.load("one.parquet"), trips())
    written = lake.export(trips(), "green", partition_cols=["day"])
    assert sorted(p.relative_to(tmp_path / "lake").as_posix() for p in written) == [
        f"green/day=2020-10-0{d}/part-0000.parquet" for d in (1, 2, 3)
    ]
    (tmp_path / "lake" / "green" / "day=2020-10-02" / "stale.parquet").write_bytes(b"old")
    lake.export(trips(days=1, per_day=1, first=2), "green", partition_cols=["day"],
                mode="replace_partitions")
    files = sorted(
        p.relative_to(tmp_path / "lake").as_posix()
        for p in (tmp_path / "lake").rglob("*")
        if p.is_file()
    )
    assert files == [
        "green/day=2020-10-01/part-0000.parquet",
        "green/day=2020-10-02/part-0000.parquet",
        "green/day=2020-10-03/part-0000.parquet",
        "one.parquet",
    ]
    counts = lake.load("green").groupby("day").size().to_dict()
    assert counts == {dt.date(2020, 10, 1): 2, dt.date(2020, 10, 2): 1, dt.date(2020, 10, 3): 2}
    with pytest.raises(FileNotFoundError):
        lake.load("missing")


def test_lake_to_duckdb_warehouse(tmp_path):
    (tmp_path / "io_config.yaml").write_text(
        "default:\n  DUCKDB_PATH: w.duckdb\n  LAKE_PATH: lake\n"
    )
    lake = LocalFiles.with_config(directory=tmp_path)
    assert lake.root == tmp_path / "lake"
    lake.export(trips(), "green", partition_cols=["day"])
    warehouse = DuckDB.with_config(directory=tmp_path)
    assert warehouse.load_from_lake(lake.root / "green", "main", "green") == 6
    per_day = warehouse.load("SELECT day, count(*) AS n FROM green GROUP BY day ORDER BY day")
    assert per_day["n"].tolist() == [2, 2, 2]


def _hold_lock(path, seconds: float):  # type: ignore[no-untyped-def]
    """Start a process that holds the database file's lock for ``seconds``; wait until it does."""
    import subprocess
    import sys

    script = (
        "import duckdb, sys, time\n"
        f"connection = duckdb.connect({str(path)!r})\n"
        "connection.execute('CREATE TABLE IF NOT EXISTS held (n INT)')\n"
        "print('held', flush=True)\n"
        f"time.sleep({seconds})\n"
        "connection.close()\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def test_a_file_another_process_holds_is_waited_for(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    holder = _hold_lock(path, 1.0)
    try:
        DuckDB(path).export(pd.DataFrame({"a": [1, 2]}), table="t")
    finally:
        holder.wait(timeout=30)
    assert DuckDB(path).load("SELECT count(*) AS n FROM t")["n"][0] == 2


def test_a_lock_held_too_long_names_the_database(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    holder = _hold_lock(path, 5.0)
    try:
        with pytest.raises(ConnectorError, match=r"cannot open the database.*lock"):
            DuckDB(path, lock_timeout=0.3).export(pd.DataFrame({"a": [1]}), table="t")
    finally:
        holder.kill()
        holder.wait(timeout=30)


def test_a_new_database_file_opens_in_older_duckdb_releases(tmp_path):
    # Mage 0.9.80 pins DuckDB 1.4, which cannot open a file DuckDB 2 writes in its own format.
    import duckdb

    path = tmp_path / "warehouse.duckdb"
    DuckDB(path).export(trips(), "main", "trips")
    with duckdb.connect(str(path)) as connection:
        (version,) = connection.execute(
            "SELECT tags['storage_version'] FROM duckdb_databases() WHERE database_name = "
            "'warehouse'").fetchone() or (None,)
    assert version == "v1.0.0+" or duckdb.__version__.startswith("1.")
    assert len(DuckDB(path).load("SELECT * FROM trips")) == 6


def test_a_file_this_process_holds_opens_whichever_way_it_was_opened(tmp_path):
    # A backfill's intervals run at once in threads: one creates the warehouse (with the
    # storage option) while another opens it; a user's own `duckdb.connect` may hold it too.
    import duckdb

    from jupyter_blocks.io.duckdb import open_database

    created = tmp_path / "created.duckdb"
    holder = open_database(str(created))
    try:
        DuckDB(created).export(pd.DataFrame({"a": [1, 2]}), table="t")
        assert DuckDB(created).load("SELECT count(*) AS n FROM t")["n"][0] == 2
    finally:
        holder.close()
    plain = tmp_path / "plain.duckdb"
    duckdb.connect(str(plain)).close()
    user = duckdb.connect(str(plain))
    try:
        DuckDB(plain).export(pd.DataFrame({"a": [1]}), table="t")
    finally:
        user.close()
    assert DuckDB(plain).load("SELECT count(*) AS n FROM t")["n"][0] == 1


def test_threads_writing_one_file_at_once_all_succeed(tmp_path):
    # A backfill's intervals export to one warehouse from threads of one process.
    import threading

    errors: list[BaseException] = []

    def write(path, table: str) -> None:
        try:
            for _ in range(30):
                DuckDB(path).export(pd.DataFrame({"a": range(100)}), "s", table)
                assert DuckDB(path).load(f"SELECT count(*) AS n FROM s.{table}")["n"][0] == 100
        except BaseException as exc:  # reported below, with every thread's
            errors.append(exc)

    for trial in range(10):
        path = tmp_path / f"warehouse{trial}.duckdb"
        threads = [threading.Thread(target=write, args=(path, f"t{i}")) for i in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert not errors, errors[:3]
