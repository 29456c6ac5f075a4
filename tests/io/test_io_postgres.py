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
import pyarrow as pa
import pytest

from jupyter_blocks.core.errors import ConfigError, ConnectorError
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


def test_empty_frames_and_chunked_arrow_tables(postgres, pg_schema):
    import pyarrow as pa

    assert postgres.export(pa.table({"a": pa.array([], pa.int64())}), pg_schema, "empty") == 0
    assert postgres.export(pd.DataFrame({"a": pd.Series([], dtype="Int64")}), pg_schema, "e2") == 0
    assert column_types(postgres, pg_schema, "empty") == {"a": "bigint"}
    chunked = pa.concat_tables([pa.table({"a": [1, 2]}), pa.table({"a": [3]})])
    assert chunked.column("a").num_chunks == 2
    assert postgres.export(chunked, pg_schema, "chunked") == 3
    back = postgres.load(f'SELECT a FROM "{pg_schema}".chunked ORDER BY a')
    assert back["a"].tolist() == [1, 2, 3]


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
    from jupyter_blocks.io.postgres import copy as _pg_copy

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


# --- SQL blocks with upstream frames: temporary tables on one session ---------------------------

PASSWORD = "pw-s3cr3t-Zq9"  # trust auth accepts any password; it must never be printed


def postgres_profile(folder: Path, schema: str, password: str | None = None) -> Path:
    lines = [
        "dev:",
        "  POSTGRES_HOST: 127.0.0.1",
        "  POSTGRES_DBNAME: test",
        "  POSTGRES_USER: postgres",
        f"  POSTGRES_SCHEMA: {schema}",
    ]
    if password is not None:
        lines.append(f"  POSTGRES_PASSWORD: {password}")
    (folder / "io_config.yaml").write_text("\n".join(lines) + "\n")
    return folder


def as_lists(frame: pd.DataFrame) -> dict[str, list[object]]:
    """Columns as lists, missing values as None (pandas has several kinds of them)."""
    return frame.astype(object).where(frame.notna(), None).to_dict("list")


def run_on_postgres(source, upstreams, variables, folder):  # type: ignore[no-untyped-def]
    return run_sql_block(
        source, upstreams, variables, profile="dev", connector="postgres", directory=folder
    )


def temporary_relations(names: list[str]) -> list[str]:
    with psycopg.connect(**PG, autocommit=True) as connection:  # type: ignore[arg-type]
        rows = connection.execute(
            "SELECT relname FROM pg_class WHERE relpersistence = 't' AND relname = ANY(%s)",
            [names],
        ).fetchall()
    return [row[0] for row in rows]


@pytest.fixture
def uploads(monkeypatch):  # type: ignore[no-untyped-def]
    """The temporary tables created, in order."""
    from jupyter_blocks.io.postgres import query as _pg_query

    created: list[str] = []
    real = _pg_query.create_temporary_table

    def spy(cursor, table, data, chunk_bytes):  # type: ignore[no-untyped-def]
        created.append(table)
        return real(cursor, table, data, chunk_bytes)

    monkeypatch.setattr(_pg_query, "create_temporary_table", spy)
    return created


def test_sql_block_on_postgres_sees_upstream_frames(postgres, pg_schema, tmp_path, uploads):
    postgres.export(
        pd.DataFrame({"day": [dt.date(2020, 10, 4)], "label": ["fourth"]}), pg_schema, "labels"
    )
    folder = postgres_profile(tmp_path, pg_schema)
    clean = sample(6)
    zones = pa.table({"day": [dt.date(2020, 10, 3), dt.date(2020, 10, 5)], "zone": ["z3", "z5"]})
    unused = pd.DataFrame({"x": [1]})
    source = (
        "SELECT c.day, count(*) AS trips, sum(c.amount) AS amount, max(z.zone) AS zone,\n"
        "       max(l.label) AS label,\n"
        "       (SELECT relpersistence FROM pg_class WHERE oid = 'clean'::regclass) AS kind\n"
        "FROM Clean c\n"
        "LEFT JOIN {{ df_2 }} z ON z.day = c.day\n"
        f'LEFT JOIN "{pg_schema}".labels l ON l.day = c.day\n'
        "WHERE c.day >= {{ since }} AND c.name LIKE 'n%' -- not 'unused'\n"
        "GROUP BY c.day ORDER BY c.day"
    )
    result = run_on_postgres(
        source,
        {"clean": clean, "zones": zones, "unused_block": unused, "settings": {"a": 1}},
        {"since": "2020-10-03"},  # a string, as --var gives it: PostgreSQL infers date
        folder,
    )
    assert uploads == ["clean", "zones"]
    assert as_lists(result) == {
        "day": [dt.date(2020, 10, 3), dt.date(2020, 10, 4), dt.date(2020, 10, 6)],
        "trips": [1, 1, 1],
        "amount": [0.5, 0.75, 1.25],
        "zone": ["z3", None, None],
        "label": [None, "fourth", None],
        "kind": ["t", "t", "t"],
    }
    assert result["trips"].dtype == "int64"
    # Nothing is left behind: the session's temporary tables went with it.
    assert temporary_relations(["clean", "zones"]) == []
    assert sorted(
        postgres.load(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s", [pg_schema]
        ).tablename
    ) == ["labels"]


def test_parameters_bind_as_they_do_without_upstreams(postgres, pg_schema, tmp_path):
    folder = postgres_profile(tmp_path, pg_schema)
    source = (
        "SELECT count(*) AS n, min(plain_int) AS first, '{{ note }}' AS note, {{ n }} + 1 AS n1,\n"
        "       {{ label }} AS label, coalesce({{ missing }}, 'none') AS missing,\n"
        "       {{ stamp }} AS stamp\n"
        "FROM {{ df_1 }} WHERE day >= {{ since }} AND naive_ts < {{ until }}\n"
        "  AND name LIKE 'n%' AND {{ cutoff }} > 0.5"
    )
    variables = {
        "since": dt.date(2020, 10, 3),
        "until": "2020-10-01 20:00",
        "note": "it's 100%",
        "n": 41,
        "label": "x",
        "missing": None,
        "stamp": dt.datetime(2020, 10, 1, 8, tzinfo=dt.timezone.utc),
        "cutoff": "1.5",
    }
    with_upstream = run_on_postgres(source, {"trips": sample(8)}, variables, folder)
    postgres.export(sample(8), pg_schema, "trips")
    stored = run_on_postgres(
        source.replace("{{ df_1 }}", f'"{pg_schema}".trips'), {}, variables, folder
    )
    pd.testing.assert_frame_equal(with_upstream, stored)
    assert with_upstream["n"].tolist() == [sum(1 for i in range(8) if i >= 2 and i % 4 and i < 12)]
    assert with_upstream["note"].tolist() == ["it's 100%"]


def test_upstream_round_trip_matches_a_stored_table(postgres, pg_schema, tmp_path):
    folder = postgres_profile(tmp_path, pg_schema)
    frame = sample(9)
    source = (
        "SELECT *, nullable_int * 2 AS doubled, amount::numeric(10, 2) AS money,"
        " sum(plain_int) OVER () AS total, naive_ts - naive_ts AS zero, ARRAY[small] AS arr"
        " FROM trips ORDER BY plain_int"
    )
    via_upstream = run_on_postgres(source, {"trips": frame}, {}, folder)
    postgres.export(frame, pg_schema, "trips")
    via_table = postgres.load(source.replace("FROM trips", f'FROM "{pg_schema}".trips'))
    pd.testing.assert_frame_equal(via_upstream, via_table)
    assert via_upstream["nullable_int"].dtype == "Int64"
    assert via_upstream["nullable_int"].tolist() == frame["nullable_int"].tolist()
    assert via_upstream["maybe"].dtype == "boolean"
    assert (via_upstream["naive_ts"] == frame["naive_ts"]).all()
    assert (via_upstream["aware_ts"] == frame["aware_ts"]).all()
    assert str(via_upstream["aware_ts"].dt.tz) == "UTC"


def test_upstream_arrow_and_empty_frames(pg_schema, tmp_path):
    folder = postgres_profile(tmp_path, pg_schema)
    table = pa.table(
        {
            "id": pa.array([1, None, 3], pa.int32()),
            "at": pa.array(
                [dt.datetime(2020, 1, 1), None, dt.datetime(2020, 1, 3)], pa.timestamp("ms")
            ),
            "tag": pa.array(["a", "b", None]).dictionary_encode(),
        }
    )
    empty = pd.DataFrame({"id": pd.Series([], dtype="int64")})
    result = run_on_postgres(
        "SELECT t.id, t.at, t.tag, (SELECT count(*) FROM nothing) AS none FROM t ORDER BY t.id",
        {"t": table, "nothing": empty},
        {},
        folder,
    )
    assert result["id"].dtype == "Int64"
    assert result["id"].tolist()[:2] == [1, 3]
    assert result["id"].isna().tolist() == [False, False, True]
    assert result["at"].tolist()[:2] == [pd.Timestamp("2020-01-01"), pd.Timestamp("2020-01-03")]
    assert result["tag"][0] == "a"
    assert pd.isna(result["tag"][1])
    assert result["none"].tolist() == [0, 0, 0]


def test_statements_on_upstreams_are_committed(postgres, pg_schema, tmp_path):
    postgres.execute(f'CREATE SCHEMA "{pg_schema}"')
    postgres.execute(f'CREATE TABLE "{pg_schema}".target (plain_int bigint, name text)')
    folder = postgres_profile(tmp_path, pg_schema)
    result = run_on_postgres(
        f'INSERT INTO "{pg_schema}".target SELECT plain_int, name FROM clean WHERE flag',
        {"clean": sample(6)},
        {},
        folder,
    )
    assert result.empty
    stored = postgres.load(f'SELECT plain_int FROM "{pg_schema}".target ORDER BY 1')
    assert stored["plain_int"].tolist() == [0, 2, 4]


def test_without_referenced_frames_the_query_runs_as_before(postgres, pg_schema, tmp_path, uploads):
    postgres.export(sample(4), pg_schema, "trips")
    folder = postgres_profile(tmp_path, pg_schema)
    result = run_on_postgres(
        f'SELECT count(*) AS n FROM "{pg_schema}".trips WHERE plain_int >= {{{{ floor }}}}',
        {"trips": {"rows": 4}, "other": sample(2)},  # a dict is not a table
        {"floor": 1},
        folder,
    )
    assert result["n"].tolist() == [3]
    assert uploads == []


def test_an_upload_failure_names_the_block_and_hides_the_password(pg_schema, tmp_path, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    folder = postgres_profile(tmp_path, pg_schema, password=PASSWORD)
    bad = sample(3)
    bad.loc[2, "name"] = "NUL \x00 is not valid text"
    with pytest.raises(ConnectorError) as caught:
        run_on_postgres(
            "SELECT count(*) FROM fine JOIN clean USING (plain_int)",
            {"fine": sample(2), "clean": bad},
            {},
            folder,
        )
    message = str(caught.value)
    assert message.startswith("postgres profile 'dev': upstream block 'clean'")
    assert "\n" not in message
    assert PASSWORD not in message
    assert PASSWORD not in caplog.text
    assert temporary_relations(["fine", "clean"]) == []

    listy = pd.DataFrame({"values": [[1, 2]]})
    with pytest.raises(ConnectorError, match=r"upstream block 'listy'.*column 'values'"):
        run_on_postgres("SELECT * FROM listy", {"listy": listy}, {}, folder)

    with pytest.raises(ConnectorError) as caught:
        run_on_postgres(
            "SELECT * FROM clean JOIN nowhere USING (x)", {"clean": sample(2)}, {}, folder
        )
    assert str(caught.value).startswith("postgres profile 'dev': query failed")
    assert "nowhere" in str(caught.value)
    assert PASSWORD not in str(caught.value)


def test_block_names_fold_to_lower_case_like_unquoted_names(pg_schema, tmp_path):
    folder = postgres_profile(tmp_path, pg_schema)
    result = run_on_postgres(
        "SELECT (SELECT count(*) FROM cleanTrips) AS a, (SELECT count(*) FROM {{ df_1 }}) AS b",
        {"cleanTrips": sample(3)},
        {},
        folder,
    )
    assert result.to_dict("list") == {"a": [3], "b": [3]}
    with pytest.raises(ConfigError, match="'Clean' and 'clean'"):
        run_on_postgres("SELECT * FROM clean", {"Clean": sample(1), "clean": sample(1)}, {}, folder)


def test_an_upstream_hides_a_table_of_the_same_name_for_its_query(postgres, pg_schema, tmp_path):
    import uuid

    name = f"jb_shadow_{uuid.uuid4().hex[:8]}"
    postgres.export(sample(1), "public", name)
    try:
        folder = postgres_profile(tmp_path, pg_schema)
        result = run_on_postgres(f"SELECT count(*) AS n FROM {name}", {name: sample(3)}, {}, folder)
        assert result["n"].tolist() == [3]
        assert postgres.load(f'SELECT count(*) AS n FROM public."{name}"')["n"].tolist() == [1]
    finally:
        postgres.execute(f'DROP TABLE IF EXISTS public."{name}"')


def test_a_profiles_sql_connector_runs_its_sql_blocks_on_postgres(postgres, pg_schema, tmp_path):
    (tmp_path / "io_config.yaml").write_text(
        "default:\n  DUCKDB_PATH: w.duckdb\n"
        "dev:\n  POSTGRES_HOST: 127.0.0.1\n  POSTGRES_PORT: 5432\n  POSTGRES_DBNAME: test\n"
        "  POSTGRES_USER: postgres\n  SQL_CONNECTOR: postgres\n")
    frame = pd.DataFrame({"n": [1, 2, 3]})
    source = "SELECT version() LIKE 'PostgreSQL%' AS on_postgres, sum(n) AS total FROM up"
    result = run_sql_block(source, {"up": frame}, {"profile": "dev"}, profile="{{ profile }}",
                           connector=None, directory=tmp_path)
    assert result.to_dict("list") == {"on_postgres": [True], "total": [6]}
    assert not (tmp_path / "w.duckdb").exists()
