from __future__ import annotations

import datetime as dt
import decimal

import pandas as pd
import pytest
from google.cloud import bigquery as bq

from jupyter_blocks.errors import ConfigError, ConnectorError
from jupyter_blocks.io.bigquery import (
    dataframe_job_config,
    gcs_job_config,
    gcs_source,
    parameter_type,
    query_parameters,
    write_disposition,
)

# --- job configurations (pure) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("if_exists", "disposition"),
    [("replace", "WRITE_TRUNCATE"), ("append", "WRITE_APPEND"), ("fail", "WRITE_EMPTY")],
)
def test_write_dispositions(if_exists, disposition):
    assert write_disposition(if_exists) == disposition
    assert dataframe_job_config(if_exists).write_disposition == disposition


def test_unknown_if_exists():
    with pytest.raises(ConfigError, match="did you mean `append`"):
        write_disposition("apend")


def test_dataframe_job_config_is_parquet_with_optional_schema():
    schema = [bq.SchemaField("a", "INT64")]
    config = dataframe_job_config("replace", schema)
    assert config.source_format == "PARQUET"
    assert [field.name for field in config.schema] == ["a"]


def test_gcs_sources():
    assert gcs_source("gs://b/data", partitioned=True) == ("gs://b/data/*", "gs://b/data/")
    assert gcs_source("gs://b/data/", partitioned=True) == ("gs://b/data/*", "gs://b/data/")
    assert gcs_source("gs://b/data/**", partitioned=True) == ("gs://b/data/**", "gs://b/data/")
    assert gcs_source("gs://b/one.parquet", partitioned=False) == ("gs://b/one.parquet", None)
    with pytest.raises(ConfigError):
        gcs_source("b/data", partitioned=True)


def test_gcs_job_config_for_a_partitioned_dataset():
    source, config = gcs_job_config(
        "gs://b/green", "append", partitioned=True, partition_field="lpep_pickup_date"
    )
    assert source == "gs://b/green/*"
    assert config.source_format == "PARQUET"
    assert config.write_disposition == "WRITE_APPEND"
    assert config.hive_partitioning.mode == "AUTO"
    assert config.hive_partitioning.source_uri_prefix == "gs://b/green/"
    assert config.time_partitioning.field == "lpep_pickup_date"
    assert config.time_partitioning.type_ == "DAY"


def test_gcs_job_config_for_one_object():
    source, config = gcs_job_config("gs://b/one.parquet", partitioned=False)
    assert source == "gs://b/one.parquet"
    assert config.hive_partitioning is None
    assert config.write_disposition == "WRITE_TRUNCATE"


def test_query_parameter_types():
    values = {
        "flag": True,
        "n": 3,
        "x": 1.5,
        "d": dt.date(2020, 10, 1),
        "naive": dt.datetime(2020, 10, 1, 8),
        "aware": dt.datetime(2020, 10, 1, tzinfo=dt.timezone.utc),
        "s": "text",
        "dec": decimal.Decimal("1.10"),
        "ids": [1, 2],
    }
    built = {parameter.name: parameter for parameter in query_parameters(values)}
    types = {name: getattr(p, "type_", None) or p.array_type for name, p in built.items()}
    assert types == {
        "flag": "BOOL",
        "n": "INT64",
        "x": "FLOAT64",
        "d": "DATE",
        "naive": "DATETIME",
        "aware": "TIMESTAMP",
        "s": "STRING",
        "dec": "NUMERIC",
        "ids": "INT64",
    }
    assert built["ids"].values == [1, 2]
    with pytest.raises(ConfigError):
        parameter_type(object())


# --- against the emulator ---------------------------------------------------------------------


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "day": [dt.date(2020, 10, 1), dt.date(2020, 10, 1), dt.date(2020, 10, 2)],
            "trips": pd.array([1, 2, None], dtype="Int64"),
            "vendor": ["a", "b", "c"],
        }
    )


@pytest.mark.bigquery
def test_export_modes_and_parameterised_load(bigquery, bq_dataset):
    table = f"{bq_dataset}.daily"
    assert bigquery.export(frame(), table) == 3  # dataset created on the way
    assert bigquery.export(frame(), table, if_exists="append") == 6
    with pytest.raises(ConnectorError, match="bigquery: export to"):
        bigquery.export(frame(), table, if_exists="fail")
    assert bigquery.export(frame().iloc[:1], table, if_exists="replace") == 1
    result = bigquery.load(f"SELECT vendor FROM `{table}` WHERE trips >= @n", {"n": 1})
    assert result["vendor"].tolist() == ["a"]


@pytest.mark.bigquery
def test_load_from_gcs_partitioned(bigquery, bq_dataset, gcs, gcs_prefix):
    gcs.export(frame(), gcs_prefix, partition_cols=["day"])
    # Emulator divergences: its wildcard `*` does not cross `/` (use `**`), and Parquet loads
    # into a new table need an explicit schema.
    schema = [
        bq.SchemaField("trips", "INT64"),
        bq.SchemaField("vendor", "STRING"),
        bq.SchemaField("day", "DATE"),
    ]
    rows = bigquery.load_from_gcs(f"{gcs_prefix}/**", f"{bq_dataset}.from_lake", schema=schema)
    assert rows == 3
    back = bigquery.load(
        f"SELECT day, vendor FROM `{bq_dataset}.from_lake` WHERE day = @day ORDER BY vendor",
        {"day": dt.date(2020, 10, 1)},
    )
    assert back["vendor"].tolist() == ["a", "b"]


@pytest.mark.bigquery
def test_query_errors_are_connector_errors(bigquery, bq_dataset):
    with pytest.raises(ConnectorError, match="bigquery: query failed"):
        bigquery.load(f"SELECT * FROM `{bq_dataset}.missing`")


def test_bigquery_schema_from_arrow():
    import pyarrow as pa

    from jupyter_blocks.io.bigquery import bigquery_schema

    schema = pa.schema(
        [
            ("i", pa.int16()),
            ("f", pa.float32()),
            ("b", pa.bool_()),
            ("s", pa.large_string()),
            ("d", pa.date32()),
            ("naive", pa.timestamp("ns")),
            ("aware", pa.timestamp("us", "UTC")),
            ("c", pa.dictionary(pa.int8(), pa.string())),
            ("n", pa.decimal128(10, 2)),
        ]
    )
    assert [(f.name, f.field_type) for f in bigquery_schema(schema)] == [
        ("i", "INT64"),
        ("f", "FLOAT64"),
        ("b", "BOOL"),
        ("s", "STRING"),
        ("d", "DATE"),
        ("naive", "DATETIME"),
        ("aware", "TIMESTAMP"),
        ("c", "STRING"),
        ("n", "NUMERIC"),
    ]
    with pytest.raises(ConfigError, match="column 'l'"):
        bigquery_schema(pa.schema([("l", pa.list_(pa.int64()))]))
