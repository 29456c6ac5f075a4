from __future__ import annotations

import datetime as dt
import decimal

import pandas as pd
import pytest
from google.cloud import bigquery as bq

from jupyter_blocks.core.errors import ConfigError, ConnectorError
from jupyter_blocks.io.google.bigquery import (
    dataframe_job_config,
    gcs_job_config,
    gcs_source,
    write_disposition,
)
from jupyter_blocks.io.google.bigquery_types import parameter_type, query_parameters

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

    from jupyter_blocks.io.google.bigquery_types import bigquery_schema

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


# --- SQL blocks with upstream frames: scratch tables and a default dataset ----------------------


def bigquery_profile(folder, emulator, scratch: str | None = None):  # type: ignore[no-untyped-def]
    lines = [
        "dev:",
        f"  GOOGLE_PROJECT_ID: {emulator.project}",
        f"  BIGQUERY_ENDPOINT: {emulator.endpoint}",
    ]
    if scratch is not None:
        lines.append(f"  BIGQUERY_SCRATCH_DATASET: {scratch}")
    (folder / "io_config.yaml").write_text("\n".join(lines) + "\n")
    return folder


def as_lists(frame: pd.DataFrame) -> dict[str, list[object]]:
    """Columns as lists, missing values as None (pandas has several kinds of them)."""
    return frame.astype(object).where(frame.notna(), None).to_dict("list")


def run_on_bigquery(source, upstreams, variables, folder):  # type: ignore[no-untyped-def]
    from jupyter_blocks.io import run_sql_block

    return run_sql_block(
        source, upstreams, variables, profile="dev", connector="bigquery", directory=folder
    )


def tables_in(bigquery, dataset: str) -> set[str]:  # type: ignore[no-untyped-def]
    return {table.table_id for table in bigquery.client.list_tables(dataset)}


@pytest.fixture
def expirations(monkeypatch):  # type: ignore[no-untyped-def]
    """``(table id, expires)`` of every table update asked for.

    The emulator accepts a table's expiration time but does not keep it, so the request is
    what the tests can check.
    """
    requested: list[tuple[str, dt.datetime | None]] = []
    real = bq.Client.update_table

    def spy(self, table, fields, *args, **kwargs):  # type: ignore[no-untyped-def]
        if "expires" in fields:
            requested.append(
                (f"{table.project}.{table.dataset_id}.{table.table_id}", table.expires)
            )
        return real(self, table, fields, *args, **kwargs)

    monkeypatch.setattr(bq.Client, "update_table", spy)
    return requested


@pytest.mark.bigquery
def test_sql_block_on_bigquery_sees_upstream_frames(
    bigquery, bigquery_emulator, bq_dataset, tmp_path, expirations
):
    bigquery.export(
        pd.DataFrame({"day": [dt.date(2020, 10, 2)], "label": ["second"]}), f"{bq_dataset}.labels"
    )
    scratch = f"scratch_{bq_dataset.rsplit('_', 1)[-1]}"
    folder = bigquery_profile(tmp_path, bigquery_emulator, scratch)
    zones = pd.DataFrame({"day": [dt.date(2020, 10, 1)], "zone": ["z1"]})
    source = (
        "SELECT c.day, count(*) AS n, sum(c.trips) AS trips, max(z.zone) AS zone,"
        " max(l.label) AS label\n"
        "FROM clean AS c\n"
        "LEFT JOIN {{ df_2 }} AS z ON z.day = c.day\n"
        f"LEFT JOIN `{bq_dataset}.labels` AS l ON l.day = c.day\n"
        "WHERE c.day >= {{ since }} AND '{{ note }}' != ''\n"
        "GROUP BY c.day ORDER BY c.day"
    )
    upstreams = {"clean": frame(), "zones": zones, "unused": frame(), "config": {"a": 1}}
    variables = {"since": dt.date(2020, 10, 1), "note": "it's"}
    started = dt.datetime.now(dt.timezone.utc)
    result = run_on_bigquery(source, upstreams, variables, folder)
    assert as_lists(result) == {
        "day": [dt.date(2020, 10, 1), dt.date(2020, 10, 2)],
        "n": [2, 1],
        "trips": [3, None],
        "zone": ["z1", None],
        "label": [None, "second"],
    }
    project = bigquery_emulator.project
    assert tables_in(bigquery, f"{project}.{scratch}") == {"clean", "zones"}
    assert tables_in(bigquery, bq_dataset) == {"labels"}
    assert sorted(table for table, _ in expirations) == [
        f"{project}.{scratch}.clean",
        f"{project}.{scratch}.zones",
    ]
    for _, expires in expirations:
        assert expires is not None
        assert dt.timedelta(hours=23) < expires - started < dt.timedelta(hours=25)

    # Each run replaces the scratch tables with the upstream outputs of that run.
    smaller = frame().iloc[:1]
    again = run_on_bigquery(source, {"clean": smaller, "zones": zones}, variables, folder)
    assert again["n"].tolist() == [1]
    assert bigquery.client.get_table(f"{project}.{scratch}.clean").num_rows == 1


@pytest.mark.bigquery
def test_the_default_scratch_dataset(bigquery, bigquery_emulator, tmp_path):
    folder = bigquery_profile(tmp_path, bigquery_emulator)
    result = run_on_bigquery(
        "SELECT count(*) AS n FROM default_scratch_probe",
        {"default_scratch_probe": frame()},
        {},
        folder,
    )
    assert result["n"].tolist() == [3]
    assert "default_scratch_probe" in tables_in(
        bigquery, f"{bigquery_emulator.project}.jupyter_blocks_scratch"
    )


@pytest.mark.bigquery
def test_upstream_round_trip_matches_a_stored_table(
    bigquery, bigquery_emulator, bq_dataset, tmp_path
):
    folder = bigquery_profile(tmp_path, bigquery_emulator, f"scratch_rt_{bq_dataset[-10:]}")
    data = frame().assign(
        naive=pd.to_datetime(
            ["2020-10-01 08:30:00.123456", "2020-10-01 09:00", "2020-10-02 00:00"], format="ISO8601"
        ),
        aware=pd.to_datetime(
            ["2020-10-01 08:30", "2020-10-01 09:00", "2020-10-02 00:00"]
        ).tz_localize("Europe/Paris"),
        ratio=[0.5, None, 1.5],
    )
    via_upstream = run_on_bigquery(
        "SELECT * FROM trips ORDER BY vendor", {"trips": data}, {}, folder
    )
    bigquery.export(data, f"{bq_dataset}.trips")
    via_table = bigquery.load(f"SELECT * FROM `{bq_dataset}.trips` ORDER BY vendor")
    pd.testing.assert_frame_equal(via_upstream, via_table)
    assert via_upstream["trips"].dtype == "Int64"
    assert via_upstream["trips"].isna().tolist() == [False, False, True]
    assert (via_upstream["naive"] == data["naive"]).all()
    assert (via_upstream["aware"] == data["aware"]).all()


@pytest.mark.bigquery
def test_an_upload_failure_names_the_block(bigquery_emulator, tmp_path):
    folder = bigquery_profile(tmp_path, bigquery_emulator, "scratch_failures")
    listy = pd.DataFrame({"values": [[1, 2]]})
    with pytest.raises(ConnectorError) as caught:
        run_on_bigquery("SELECT * FROM listy", {"listy": listy}, {}, folder)
    message = str(caught.value)
    assert message.startswith("bigquery profile 'dev': upstream block 'listy'")
    assert "column 'values'" in message
    assert "\n" not in message
