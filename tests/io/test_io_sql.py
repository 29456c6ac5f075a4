from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow as pa
import pytest

from jupyter_blocks.core.errors import ConfigError, ConnectorError
from jupyter_blocks.io import referenced_variables, run_sql_block
from jupyter_blocks.io.dialects import BIGQUERY, DUCKDB, POSTGRES
from jupyter_blocks.io.templating import render_sql


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("SELECT 1", set()),
        ("SELECT * FROM clean WHERE d = {{ execution_date }}", {"execution_date"}),
        (
            "{% if full %}SELECT {{ a }}{% else %}SELECT {{ b | upper }}{% endif %}",
            {"full", "a", "b"},
        ),
        ("SELECT * FROM {{ df_1 }} WHERE x > {{ limit }}", {"limit"}),
        ("SELECT {{ kwargs['x'] }}", None),
        ("SELECT {{ variables.x }}", None),
        ("SELECT {{ unclosed", None),
    ],
)
def test_referenced_variables(source, expected):
    assert referenced_variables(source) == expected


def test_values_in_code_become_parameters():
    rendered = render_sql(
        "SELECT * FROM t WHERE d = {{ day }} AND n > {{ n + 1 }}",
        {"day": dt.date(2020, 10, 1), "n": 4},
        DUCKDB,
    )
    assert rendered.sql == "SELECT * FROM t WHERE d = $p1 AND n > $p2"
    assert rendered.params == {"p1": dt.date(2020, 10, 1), "p2": 5}


def test_values_inside_quotes_and_comments_are_escaped():
    hostile = "x' OR 1=1; --\nDROP TABLE t; */"
    source = "SELECT '{{ v }}' AS lit, \"{{ v }}\" AS ident -- note {{ v }}\n/* {{ v }} */ FROM t"
    rendered = render_sql(source, {"v": hostile}, DUCKDB)
    assert rendered.params == {}
    assert "'x'' OR 1=1; --\nDROP TABLE t; */' AS lit" in rendered.sql
    assert "-- note x' OR 1=1; -- DROP TABLE t; */\n" in rendered.sql
    assert "/* x' OR 1=1; --\nDROP TABLE t; * / */" in rendered.sql
    bq = render_sql("SELECT '{{ v }}'", {"v": "a\\' b"}, BIGQUERY)
    assert bq.sql == "SELECT 'a\\\\'' b'"


def test_postgres_placeholders_double_percent_signs():
    rendered = render_sql(
        "SELECT * FROM t WHERE name LIKE 'a%' AND d = {{ d }}", {"d": 1}, POSTGRES
    )
    assert rendered.sql == "SELECT * FROM t WHERE name LIKE 'a%%' AND d = %(p1)s"
    plain = render_sql("SELECT 'a%'", {}, POSTGRES)
    assert plain.sql == "SELECT 'a%'"


def test_identifiers_and_dollar_quotes():
    rendered = render_sql(
        "SELECT * FROM {{ df_1 }} JOIN {{ t | identifier }} USING (id)",
        {"t": 'we"ird'},
        DUCKDB,
        ["clean"],
    )
    assert rendered.sql == 'SELECT * FROM "clean" JOIN "we""ird" USING (id)'
    with pytest.raises(ConfigError, match="dollar-quoted"):
        render_sql("SELECT $q$ {{ v }} $q$", {"v": "x"}, POSTGRES)


def test_undefined_variable_suggests_near_match():
    with pytest.raises(ConfigError, match="did you mean `execution_date`"):
        render_sql("SELECT {{ execution_dat }}", {"execution_date": 1}, DUCKDB)


def test_run_on_in_memory_duckdb_with_upstreams():
    clean = pd.DataFrame(
        {"day": [dt.date(2020, 10, 1)] * 2 + [dt.date(2020, 10, 2)], "fare": [1.0, 2.0, 3.0]}
    )
    zones = pa.table({"day": [dt.date(2020, 10, 1)], "label": ["first"]})
    result = run_sql_block(
        "SELECT c.day, count(*) AS trips, sum(fare) AS fares, any_value(z.label) AS label "
        "FROM clean c LEFT JOIN {{ df_2 }} z USING (day) "
        "WHERE c.day >= {{ execution_date }} AND '{{ note }}' <> '' GROUP BY c.day ORDER BY c.day",
        {"clean": clean, "zones": zones, "note_block": 42},
        {"execution_date": dt.date(2020, 10, 1), "note": "it's fine", "logger": object()},
        profile=None,
        connector=None,
        directory=None,
    )
    assert result.to_dict("list") == {
        "day": [dt.date(2020, 10, 1), dt.date(2020, 10, 2)],
        "trips": [2, 1],
        "fares": [3.0, 3.0],
        "label": ["first", result["label"][1]],
    }
    assert pd.isna(result["label"][1])


def test_run_on_the_profiles_duckdb_file(tmp_path):
    (tmp_path / "io_config.yaml").write_text("default:\n  DUCKDB_PATH: warehouse.duckdb\n")
    from jupyter_blocks.io import DuckDB

    DuckDB.with_config(directory=tmp_path).export(pd.DataFrame({"a": [1, 2, 3]}), "main", "stored")
    result = run_sql_block(
        "SELECT count(*) AS n FROM stored WHERE a > {{ floor }}",
        {},
        {"floor": 1},
        profile="default",
        connector="duckdb",
        directory=tmp_path,
    )
    assert result["n"].tolist() == [2]


def test_errors_name_the_engine():
    with pytest.raises(ConnectorError, match=r"duckdb \(in memory\): SQL block failed"):
        run_sql_block("SELECT * FROM nowhere", {}, {}, profile=None, connector=None, directory=None)
    with pytest.raises(ConfigError, match="did you mean `postgres`"):
        run_sql_block("SELECT 1", {}, {}, profile=None, connector="postgre", directory=None)


def test_referenced_upstreams_are_the_tables_the_sql_names():
    from jupyter_blocks.io.sql import referenced_upstreams

    frame = pd.DataFrame({"x": [1]})
    upstreams = {
        "clean": frame,
        "zones": pa.table({"x": [1]}),
        "clean_trips": frame,
        "config": {"a": 1},
        "third": frame,
    }
    found = referenced_upstreams(
        "SELECT * FROM CLEAN c JOIN {{ df_5 }} USING (x) WHERE c.x > 0 -- config, not clean2",
        upstreams,
    )
    assert list(found) == ["clean", "third"]
    assert found["clean"] is frame
    assert list(referenced_upstreams('SELECT * FROM "zones"', upstreams)) == ["zones"]
    assert referenced_upstreams("SELECT 1 AS cleaned, $clean$x$clean$", upstreams) == {}


def test_polars_and_duckdb_upstreams_are_passed_as_arrow():
    import duckdb

    from jupyter_blocks.io.sql import referenced_upstreams

    relation = duckdb.sql("SELECT 1 AS x")
    found = referenced_upstreams("SELECT * FROM rel", {"rel": relation})
    assert isinstance(found["rel"], pa.Table)
    assert found["rel"].to_pydict() == {"x": [1]}


def test_psycopg_placeholders_become_numbered_for_adbc():
    from jupyter_blocks.io.postgres.query import to_positional

    named = to_positional("SELECT %(a)s, '100%%', %(b)s, %(a)s", {"a": 1, "b": "x"})
    assert named.sql() == "SELECT $1, '100%', $2, $1"
    assert named.values == (1, "x")
    assert named.sql({2: "date"}) == "SELECT $1, '100%', CAST($2 AS date), $1"
    positional = to_positional("SELECT %s || %s", ["a", "b"])
    assert positional.sql() == "SELECT $1 || $2"
    assert positional.values == ("a", "b")
    assert to_positional("SELECT '5%'", None).sql() == "SELECT '5%'"
    assert to_positional("SELECT '5%'", {}).sql() == "SELECT '5%'"
    with pytest.raises(ConfigError, match="doubled"):
        to_positional("SELECT '5%' || %(a)s", {"a": 1})
    with pytest.raises(ConfigError, match="no parameter 'b'"):
        to_positional("SELECT %(b)s", {"a": 1})
    with pytest.raises(ConfigError, match="2 placeholders, 1 value"):
        to_positional("SELECT %s, %s", [1])


def test_a_duckdb_1_4_relation_counts_as_a_table():
    # DuckDB 1.4 (Mage's pin) keeps DuckDBPyRelation in the module `_duckdb`.
    from jupyter_blocks.io.sql import _is_tabular

    relation = type("DuckDBPyRelation", (), {"__module__": "_duckdb", "columns": ["a"]})()
    assert _is_tabular(relation)


def two_warehouses(folder):  # type: ignore[no-untyped-def]
    """Profiles ``default`` and ``other``, each with a DuckDB file holding a table ``which``."""
    (folder / "io_config.yaml").write_text(
        "default:\n  DUCKDB_PATH: default.duckdb\nother:\n  DUCKDB_PATH: other.duckdb\n")
    from jupyter_blocks.io import DuckDB

    for name in ("default", "other"):
        DuckDB.with_config(name, directory=folder).export(
            pd.DataFrame({"profile": [name]}), "main", "which")


@pytest.mark.parametrize("spelling", ["{{ profile }}", "{{profile}}"])
def test_a_variable_chooses_the_profile(tmp_path, spelling):
    two_warehouses(tmp_path)
    for name in ("default", "other"):
        result = run_sql_block("SELECT profile FROM which", {}, {"profile": name},
                               profile=spelling, connector=None, directory=tmp_path)
        assert result["profile"].tolist() == [name]


def test_a_profile_variable_that_is_missing_or_not_a_name_is_one_error(tmp_path):
    two_warehouses(tmp_path)
    with pytest.raises(ConfigError, match=r"the run has no variable `profile`.*did you mean"):
        run_sql_block("SELECT 1", {}, {"profiles": "other"}, profile="{{ profile }}",
                      connector=None, directory=tmp_path)
    with pytest.raises(ConfigError, match=r"`profile` is 3, not a profile name"):
        run_sql_block("SELECT 1", {}, {"profile": 3}, profile="{{ profile }}",
                      connector=None, directory=tmp_path)


def test_the_profiles_sql_connector_is_the_engine_unless_the_block_names_one(tmp_path):
    (tmp_path / "io_config.yaml").write_text(
        "default:\n  DUCKDB_PATH: w.duckdb\n  SQL_CONNECTOR: postgre\n")
    with pytest.raises(ConfigError, match=r"profile 'default' .*: SQL_CONNECTOR: expected one of "
                                          r"duckdb, postgres, bigquery, got 'postgre'"):
        run_sql_block("SELECT 1 AS n", {}, {}, profile="default", connector=None,
                      directory=tmp_path)
    # --connector wins over the profile's engine.
    result = run_sql_block("SELECT 1 AS n", {}, {}, profile="default", connector="duckdb",
                           directory=tmp_path)
    assert result["n"].tolist() == [1]
