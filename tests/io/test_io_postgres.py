from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pandas as pd
import psycopg
import pytest

from jupyter_blocks.errors import ConfigError, ConnectorError
from jupyter_blocks.io import Postgres, run_sql_block

REPO_ROOT = Path(__file__).resolve().parents[2]
PG = {"host": "127.0.0.1", "port": 5432, "dbname": "test", "user": "postgres"}

pytestmark = pytest.mark.postgres

EVIL = "x; drop table y"


def sample(rows: int = 5, offset: int = 0) -> pd.DataFrame:
    index = range(offset, offset + rows)
    return pd.DataFrame(
        {
            "nullable_int": pd.array([i if i % 3 else None for i in index], dtype="Int64"),
            "plain_int": pd.Series(list(index), dtype="int64"),
            "small": pd.Series([i % 100 for i in index], dtype="int8"),
            "amount": [i / 4 for i in index],
            "name": pd.Series([f"n{i}" if i % 4 else None for i in index], dtype="str"),
            "flag": [i % 2 == 0 for i in index],
            "maybe": pd.array([None if i % 5 == 0 else i % 2 == 0 for i in index], dtype="boolean"),
            "naive_ts": pd.Timestamp("2020-10-01 08:30:00.123456")
            + pd.to_timedelta(list(index), "h"),
            "aware_ts": (
                pd.Timestamp("2020-10-01 08:30", tz="Europe/Paris")
                + pd.to_timedelta(list(index), "h")
            ),
            "day": [dt.date(2020, 10, 1) + dt.timedelta(days=i) for i in index],
            "category": pd.Categorical([["a", "b"][i % 2] for i in index]),
        }
    )


def column_types(connector: Postgres, schema: str, table: str) -> dict[str, str]:
    rows = connector.load(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = %(schema)s AND table_name = %(table)s",
        {"schema": schema, "table": table},
    )
    return dict(zip(rows.column_name, rows.data_type, strict=True))


def staging_tables(connector: Postgres, schema: str) -> list[str]:
    rows = connector.load(
        "SELECT tablename FROM pg_tables WHERE schemaname = %s AND tablename LIKE %s",
        [schema, "\\_jb\\_staging%"],
    )
    return list(rows.tablename)


def test_round_trip_types_and_quoted_names(postgres, pg_schema):
    postgres.execute(f'CREATE SCHEMA "{pg_schema}"')
    postgres.execute(f'CREATE TABLE "{pg_schema}".y (id int)')
    df = sample(8)
    assert postgres.export(df, pg_schema, EVIL) == 8
    assert column_types(postgres, pg_schema, EVIL) == {
        "nullable_int": "bigint",
        "plain_int": "bigint",
        "small": "smallint",
        "amount": "double precision",
        "name": "text",
        "flag": "boolean",
        "maybe": "boolean",
        "naive_ts": "timestamp without time zone",
        "aware_ts": "timestamp with time zone",
        "day": "date",
        "category": "text",
    }
    assert "y" in set(
        postgres.load(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s", [pg_schema]
        ).tablename
    )
    back = postgres.load(f'SELECT * FROM "{pg_schema}"."{EVIL}" ORDER BY plain_int')
    assert back["nullable_int"].dtype == "Int64"
    assert back["nullable_int"].tolist() == df["nullable_int"].tolist()
    assert back["plain_int"].tolist() == df["plain_int"].tolist()
    assert back["small"].tolist() == df["small"].tolist()
    assert back["amount"].tolist() == df["amount"].tolist()
    assert back["name"].isna().tolist() == df["name"].isna().tolist()
    assert back["name"].dropna().tolist() == df["name"].dropna().tolist()
    assert back["flag"].tolist() == df["flag"].tolist()
    assert back["maybe"].dtype == "boolean"
    assert back["maybe"].isna().tolist() == df["maybe"].isna().tolist()
    assert (back["naive_ts"] == df["naive_ts"]).all()
    assert (back["aware_ts"] == df["aware_ts"]).all()
    assert back["day"].tolist() == df["day"].tolist()
    assert back["category"].tolist() == df["category"].astype(str).tolist()


def test_schema_is_created_and_arrow_tables_are_accepted(postgres, pg_schema):
    import pyarrow as pa

    table = pa.table({"a": [1, 2, 3], "b": ["x", "y", None]})
    assert postgres.export(table, pg_schema, "arrow") == 3
    assert postgres.load(f'SELECT count(*) AS n FROM "{pg_schema}".arrow')["n"][0] == 3


def test_if_exists_modes(postgres, pg_schema):
    postgres.export(sample(3), pg_schema, "t")
    postgres.export(sample(2, offset=10), pg_schema, "t", if_exists="append")
    assert postgres.load(f'SELECT count(*) AS n FROM "{pg_schema}".t')["n"][0] == 5
    with pytest.raises(ConnectorError, match="exists"):
        postgres.export(sample(1), pg_schema, "t", if_exists="fail")
    postgres.export(pd.DataFrame({"other": ["only"]}), pg_schema, "t", if_exists="replace")
    assert postgres.load(f'SELECT * FROM "{pg_schema}".t').to_dict("list") == {"other": ["only"]}
    with pytest.raises(ConfigError, match="did you mean `replace`"):
        postgres.export(sample(1), pg_schema, "t", if_exists="replac")
    assert staging_tables(postgres, pg_schema) == []


def test_append_matches_an_existing_tables_column_types(postgres, pg_schema):
    postgres.execute(f'CREATE SCHEMA "{pg_schema}"')
    postgres.execute(
        f'CREATE TABLE "{pg_schema}".legacy (n integer, label varchar(10), at timestamptz)'
    )
    frame = pd.DataFrame(
        {"n": [1, 2], "label": ["a", "b"], "at": pd.to_datetime(["2020-01-01", "2020-01-02"])}
    )
    postgres.export(frame, pg_schema, "legacy", if_exists="append")
    assert postgres.load(f'SELECT n FROM "{pg_schema}".legacy ORDER BY n')["n"].tolist() == [1, 2]


def test_replace_failing_half_way_keeps_the_old_table(postgres, pg_schema):
    postgres.export(sample(3), pg_schema, "t")
    small_chunks = Postgres(**{**PG, "schema": pg_schema}, chunk_bytes=1)  # many 1024-row chunks
    bad = sample(5000)
    bad.loc[4999, "name"] = "NUL \x00 is not valid text"  # the last chunk fails inside COPY
    with pytest.raises(ConnectorError, match="nothing was changed"):
        small_chunks.export(bad, pg_schema, "t")
    assert postgres.load(f'SELECT count(*) AS n FROM "{pg_schema}".t')["n"][0] == 3
    assert staging_tables(postgres, pg_schema) == []


def _hold_table_lock(schema: str, table: str) -> psycopg.Connection:
    """Lock the table so an export's final DROP waits: the load itself has finished by then."""
    connection = psycopg.connect(**PG)  # type: ignore[arg-type]
    connection.execute(f'LOCK TABLE "{schema}"."{table}" IN ACCESS SHARE MODE')
    return connection


def _wait_for_blocked_backend(schema: str, timeout: float = 30.0) -> int:
    deadline = time.monotonic() + timeout
    with psycopg.connect(**PG, autocommit=True) as monitor:  # type: ignore[arg-type]
        while time.monotonic() < deadline:
            row = monitor.execute(
                "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query ILIKE %s",
                [f'DROP TABLE %"{schema}".%'],
            ).fetchone()
            if row:
                return int(row[0])
            time.sleep(0.05)
    raise AssertionError("the export never reached its swap")


#: How an export of ``sample(2000)`` loads: one transaction (one chunk), or several connections
#: filling a committed staging table (1024-row chunks).
LOAD_PATHS = {"one_transaction": {}, "parallel": {"chunk_bytes": 1}}


@pytest.mark.parametrize("path", LOAD_PATHS)
def test_replace_survives_a_dropped_connection(postgres, pg_schema, path):
    postgres.export(sample(3), pg_schema, "t")
    exporter = Postgres(**PG, **LOAD_PATHS[path])
    lock = _hold_table_lock(pg_schema, "t")
    errors: list[BaseException] = []

    def export() -> None:
        try:
            exporter.export(sample(2000), pg_schema, "t")
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=export)
    worker.start()
    try:
        backend = _wait_for_blocked_backend(pg_schema)
        with psycopg.connect(**PG, autocommit=True) as admin:  # type: ignore[arg-type]
            admin.execute("SELECT pg_terminate_backend(%s)", [backend])
    finally:
        lock.rollback()
        lock.close()
        worker.join(timeout=60)
    assert errors and isinstance(errors[0], ConnectorError)
    assert "nothing was changed" in str(errors[0])
    assert postgres.load(f'SELECT count(*) AS n FROM "{pg_schema}".t')["n"][0] == 3
    assert staging_tables(postgres, pg_schema) == []


def _backend_gone(pid: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    with psycopg.connect(**PG, autocommit=True) as monitor:  # type: ignore[arg-type]
        while time.monotonic() < deadline:
            if not monitor.execute(
                "SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]
            ).fetchone():
                return
            time.sleep(0.1)
    raise AssertionError(f"server process {pid} outlived its killed client")


@pytest.mark.parametrize("path", LOAD_PATHS)
def test_replace_survives_a_killed_process(postgres, pg_schema, path):
    postgres.export(sample(3), pg_schema, "t")
    lock = _hold_table_lock(pg_schema, "t")
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(REPO_ROOT)!r})
        sys.path.insert(0, {str(REPO_ROOT / "tests" / "io")!r})
        from test_io_postgres import sample
        from jupyter_blocks.io import Postgres
        Postgres(**{PG!r}, **{LOAD_PATHS[path]!r}).export(sample(2000), {pg_schema!r}, "t")
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script])
    try:
        backend = _wait_for_blocked_backend(pg_schema)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        lock.rollback()
        lock.close()
    _backend_gone(backend)  # the server notices the dead client and rolls back
    assert postgres.load(f'SELECT count(*) AS n FROM "{pg_schema}".t')["n"][0] == 3
    if path == "parallel":
        # The staging table was committed for the other connections; the next export into the
        # schema sees that its creator is gone and drops it.
        assert len(staging_tables(postgres, pg_schema)) == 1
        postgres.export(sample(1), pg_schema, "another")
    assert staging_tables(postgres, pg_schema) == []
    assert postgres.load(f'SELECT count(*) AS n FROM "{pg_schema}".t')["n"][0] == 3


def test_large_frames_load_over_several_connections(postgres, pg_schema, monkeypatch):
    from jupyter_blocks.io import _pg_copy

    used: list[int] = []
    real = _pg_copy.load_in_parallel

    def spy(connect, connections, *args):  # type: ignore[no-untyped-def]
        used.append(connections)
        return real(connect, connections, *args)

    monkeypatch.setattr(_pg_copy, "load_in_parallel", spy)
    exporter = Postgres(**PG, chunk_bytes=1, connections=3)  # 1024-row chunks
    postgres.export(sample(3), pg_schema, "t")
    df = sample(5000)
    assert exporter.export(df, pg_schema, "t") == 5000
    assert used == [3]
    back = postgres.load(f'SELECT * FROM "{pg_schema}".t ORDER BY plain_int')
    assert back["plain_int"].tolist() == df["plain_int"].tolist()
    assert back["nullable_int"].tolist() == df["nullable_int"].tolist()
    assert back["name"].isna().tolist() == df["name"].isna().tolist()
    assert (back["aware_ts"] == df["aware_ts"]).all()
    assert staging_tables(postgres, pg_schema) == []

    with pytest.raises(ConnectorError, match="exists"):
        exporter.export(df, pg_schema, "t", if_exists="fail")
    assert exporter.export(df, pg_schema, "new", if_exists="fail") == 5000
    exporter.export(df.head(1500), pg_schema, "t", if_exists="append")  # one transaction
    assert used == [3, 3, 3]
    assert postgres.load(f'SELECT count(*) AS n FROM "{pg_schema}".t')["n"][0] == 6500
    assert staging_tables(postgres, pg_schema) == []


def test_only_staging_tables_of_gone_exports_are_dropped(postgres, pg_schema):
    postgres.execute(f'CREATE SCHEMA "{pg_schema}"')
    with psycopg.connect(**PG, autocommit=True) as live:  # type: ignore[arg-type]
        live_pid = live.info.backend_pid
        with psycopg.connect(**PG, autocommit=True) as admin:  # type: ignore[arg-type]
            dead_pid = admin.info.backend_pid
            for pid in (live_pid, dead_pid):
                admin.execute(f'CREATE TABLE "{pg_schema}"._jb_staging_{pid}_abc123 (n int)')
            admin.execute(f'CREATE TABLE "{pg_schema}"._jb_staging_notes (n int)')
        _backend_gone(dead_pid)
        postgres.export(sample(1), pg_schema, "t")
        assert sorted(staging_tables(postgres, pg_schema)) == [
            f"_jb_staging_{live_pid}_abc123",
            "_jb_staging_notes",
        ]


def test_connections_must_be_positive():
    with pytest.raises(ConfigError, match="connections must be at least 1, got 0"):
        Postgres(**PG, connections=0)


def test_load_binds_parameters(postgres):
    hostile = "'; DROP TABLE pg_class; --"
    named = postgres.load(
        "SELECT %(value)s::text AS v, %(n)s::int + 1 AS n", {"value": hostile, "n": 41}
    )
    assert named.to_dict("list") == {"v": [hostile], "n": [42]}
    positional = postgres.load("SELECT %s::text AS v", [hostile])
    assert positional["v"][0] == hostile


def test_query_errors_name_the_connector(postgres):
    with pytest.raises(ConnectorError, match="postgres: query failed"):
        postgres.load("SELECT * FROM no_such_table_anywhere")


def test_sql_block_on_a_postgres_profile(postgres, pg_schema, tmp_path):
    postgres.export(sample(6), pg_schema, "trips")
    (tmp_path / "io_config.yaml").write_text(
        "dev:\n  POSTGRES_HOST: 127.0.0.1\n  POSTGRES_DBNAME: test\n  POSTGRES_USER: postgres\n"
        f"  POSTGRES_SCHEMA: {pg_schema}\n"
    )
    source = (
        f"SELECT count(*) AS n, '{{{{ label }}}}' AS label FROM \"{pg_schema}\".trips "
        "WHERE day >= {{ since }} AND name LIKE 'n%'"
    )
    result = run_sql_block(
        source,
        {},
        {"since": dt.date(2020, 10, 3), "label": "it's"},
        profile="dev",
        connector="postgres",
        directory=tmp_path,
    )
    expected = sum(1 for i in range(6) if i >= 2 and i % 4)
    assert result.to_dict("list") == {"n": [expected], "label": ["it's"]}
