"""Query results have the numeric dtypes a pandas user expects, on every connector.

Aggregates are where databases widen types: DuckDB's ``SUM`` of integers is a ``HUGEINT``
(Arrow ``decimal128(38, 0)``), BigQuery's ``NUMERIC`` a ``decimal128(38, 9)``, PostgreSQL's
``SUM`` of ``bigint`` a ``numeric``. None of them may come back as ``object`` columns of
``decimal.Decimal``.
"""

from __future__ import annotations

import pandas as pd
import pytest

from jupyter_blocks.io import DuckDB, run_sql_block

TRIPS = pd.DataFrame({"passengers": [1, 2, 3], "fare": [1.5, 2.25, 3.0]})

AGGREGATES = (
    "SELECT sum(passengers) AS total, count(*) AS trips, "
    "sum(CASE WHEN passengers > 5 THEN passengers END) AS none_over_five, "
    "avg(passengers) AS mean, sum(CAST(fare AS DECIMAL(10, 2))) AS money FROM trips"
)


def check(frame: pd.DataFrame) -> None:
    dtypes = {name: str(dtype) for name, dtype in frame.dtypes.items()}
    assert dtypes == {
        "total": "int64",
        "trips": "int64",
        "none_over_five": "Int64",
        "mean": "float64",
        "money": "float64",
    }
    row = frame.iloc[0]
    assert row["total"] == 6 and row["trips"] == 3 and pd.isna(row["none_over_five"])
    assert row["mean"] == 2.0 and row["money"] == 6.75


def test_duckdb_sums_of_integers_are_int64_and_decimals_float64(tmp_path):
    warehouse = DuckDB(tmp_path / "w.duckdb")
    warehouse.export(TRIPS, "main", "trips")
    check(warehouse.load(AGGREGATES))


def test_a_duckdb_sql_block_gives_the_same_dtypes():
    check(run_sql_block(AGGREGATES, {"trips": TRIPS}, {}, profile=None, connector=None,
                        directory=None))


def test_integers_beyond_int64_become_float64_not_objects():
    frame = DuckDB().load("SELECT sum(x) AS big FROM (VALUES (9223372036854775807), (10)) t(x)")
    assert str(frame.big.dtype) == "float64" and frame.big[0] == pytest.approx(9.223372e18)


@pytest.mark.postgres
def test_postgres_sums_come_back_numeric(postgres, pg_schema):
    postgres.export(TRIPS.astype({"passengers": "int32"}), pg_schema, "trips")
    query = (f"SELECT sum(passengers) AS total, sum(passengers::bigint) AS wide_total, "
             f"avg(passengers) AS mean, sum(fare::numeric(10, 2)) AS money "
             f'FROM "{pg_schema}".trips')
    frame = postgres.load(query)
    assert {name: str(dtype) for name, dtype in frame.dtypes.items()} == {
        "total": "int64", "wide_total": "float64", "mean": "float64", "money": "float64"}


@pytest.mark.bigquery
def test_bigquery_numeric_results_are_float64(bigquery):
    frame = bigquery.load(
        "SELECT SUM(x) AS total, CAST(SUM(x) AS NUMERIC) AS exact, "
        "CAST(2.5 AS NUMERIC) AS money FROM UNNEST([1, 2, 3]) AS x"
    )
    assert {name: str(dtype) for name, dtype in frame.dtypes.items()} == {
        "total": "int64", "exact": "float64", "money": "float64"}
    assert frame.exact[0] == 6.0 and frame.money[0] == 2.5
