"""After any sequence of runs of the example, PostgreSQL, the lake and the warehouse agree.

Each run replaces the PostgreSQL table, the partitioned dataset (``mode="replace"``), the
warehouse table loaded from that dataset, the one Parquet file and the table the SQL step makes
from it, so all five hold the trips of the latest run: after a run of fewer months, after an
``--incremental`` run of more months again, and after a change to the transformer's filter
removes a day.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from click.testing import CliRunner

from jupyter_blocks.cli import cli
from tests.example.conftest import EXAMPLE, NOTEBOOK

Days = dict[str, int]
TARGETS = ["postgres", "lake", "warehouse", "parquet file", "file table"]

#: The transformer's filter, and the same with the stray 2009 pickups left out too.
FILTER = 'keep = trips["passenger_count"].gt(0).fillna(False) & trips["trip_distance"].gt(0)'
NARROWER = FILTER + ' & trips["lpep_pickup_datetime"].ge("2020-01-01")'


def expected(months: tuple[str, ...], narrower: bool) -> Days:
    """Trips per pickup day of the sample, cleaned as the transformer does."""
    frames = [pd.read_csv(EXAMPLE / "data" / f"green_tripdata_{m}.csv.gz") for m in months]
    trips = pd.concat(frames, ignore_index=True)
    clean = trips[(trips.passenger_count > 0) & (trips.trip_distance > 0)]
    if narrower:
        clean = clean[clean.lpep_pickup_datetime >= "2020-01-01"]
    return clean.groupby(clean.lpep_pickup_datetime.str[:10]).size().to_dict()


def per_day(frame: pd.DataFrame) -> Days:
    return {str(day)[:10]: int(n) for day, n in zip(frame.iloc[:, 0], frame.iloc[:, 1],
                                                    strict=True)}


def lake_days(frame: pd.DataFrame) -> Days:
    return per_day(frame.groupby("lpep_pickup_date").size().reset_index())


def narrow_the_filter(notebook: Path) -> None:
    content = json.loads(notebook.read_text())
    for cell in content["cells"]:
        source = "".join(cell["source"])
        if source.startswith("%%block transform_taxi"):
            assert FILTER in source
            cell["source"] = source.replace(FILTER, NARROWER)
    notebook.write_text(json.dumps(content, indent=1))


def run_sequence(folder: Path, options: list[str],
                 targets: Callable[[], dict[str, Days]]) -> None:
    """The runs of the issue, checking after each that the three targets hold its trips."""
    steps: list[tuple[str, tuple[str, ...], list[str], bool]] = [
        ("two months", ("2020-10", "2020-11"), [], False),
        ("October only", ("2020-10",), [], False),
        ("two months again, incremental", ("2020-10", "2020-11"), ["--incremental"], False),
        ("a filter that drops the 2009 day", ("2020-10", "2020-11"), [], True),
        ("the same, incremental", ("2020-10", "2020-11"), ["--incremental"], True),
    ]
    narrowed = False
    for name, months, extra, narrower in steps:
        if narrower and not narrowed:
            narrow_the_filter(folder / NOTEBOOK)
            narrowed = True
        # No execution date: the loader reads the run's interval (for months="interval"),
        # which for such runs is the day they start in, so an incremental run can skip.
        result = CliRunner().invoke(
            cli, ["run", str(folder / NOTEBOOK), "--var", f"months={','.join(months)}",
                  *options, *extra], catch_exceptions=False)
        assert result.exit_code == 0, f"{name}: {result.output}{result.stderr}"
        wanted = expected(months, narrower)
        found = targets()
        assert list(found) == TARGETS
        for target, days in found.items():
            assert days == wanted, f"{name}: {target}"
    assert "export_warehouse skipped: exported by run" in result.output, result.output


def test_on_the_default_profile(example_dir):
    database = example_dir / "warehouse.duckdb"

    def targets() -> dict[str, Days]:
        from jupyter_blocks.io import LocalFiles

        query = "SELECT {}, count(*) FROM {} GROUP BY 1 ORDER BY 1"
        with duckdb.connect(str(database), read_only=True) as connection:
            postgres = connection.execute(query.format("lpep_pickup_date", "mage.green_taxi")).df()
            warehouse = connection.execute(
                query.format("lpep_pickup_date", "nyc_taxi.green_taxi")).df()
            file_table = connection.execute(
                query.format("pickup_date", "nyc_taxi.green_taxi_trips")).df()
        lake = LocalFiles(example_dir / "lake")
        return {"postgres": per_day(postgres), "lake": lake_days(lake.load("green_taxi")),
                "warehouse": per_day(warehouse),
                "parquet file": lake_days(lake.load("nyc_taxi_data.parquet")),
                "file table": per_day(file_table)}

    run_sequence(example_dir, [], targets)


@pytest.mark.postgres
@pytest.mark.gcs
@pytest.mark.bigquery
def test_on_postgres_cloud_storage_and_bigquery(example_dir, monkeypatch, postgres_server,
                                                pg_schema, gcs_emulator, bigquery_emulator):
    from jupyter_blocks.io import BigQuery, GoogleCloudStorage, Postgres

    environment = {
        "POSTGRES_HOST": str(postgres_server["host"]),
        "POSTGRES_PORT": str(postgres_server["port"]),
        "POSTGRES_DBNAME": str(postgres_server["dbname"]),
        "POSTGRES_USER": str(postgres_server["user"]),
        "POSTGRES_PASSWORD": "",
        "GOOGLE_PROJECT_ID": bigquery_emulator.project,
        "GCS_ENDPOINT": gcs_emulator.endpoint,
        "BIGQUERY_ENDPOINT": bigquery_emulator.endpoint,
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    for name in ("GOOGLE_APPLICATION_CREDENTIALS", "STORAGE_EMULATOR_HOST"):
        monkeypatch.delenv(name, raising=False)
    folder = f"gs://{gcs_emulator.bucket}/example-{uuid.uuid4().hex[:8]}"
    parquet_file = f"{folder}/nyc_taxi_data.parquet"
    prefix = f"{folder}/green_taxi"
    dataset = f"nyc_taxi_{uuid.uuid4().hex[:8]}"
    options = ["--var", "profile=dev", "--var", f"postgres_table={pg_schema}.green_taxi",
               "--var", f"gcs_path={prefix}", "--var", f"gcs_file={parquet_file}",
               # The emulator's `*` does not cross `/`; real BigQuery takes gcs_path/*.
               "--var", f"bigquery_source={prefix}/**",
               "--var", f"warehouse_table={dataset}.green_taxi",
               "--var", f"file_table={dataset}.green_taxi_trips"]
    postgres = Postgres(host=str(postgres_server["host"]), port=int(str(postgres_server["port"])),
                        dbname=str(postgres_server["dbname"]), user=str(postgres_server["user"]))
    storage = GoogleCloudStorage(endpoint=gcs_emulator.endpoint)
    bigquery = BigQuery(project=bigquery_emulator.project, endpoint=bigquery_emulator.endpoint)

    def targets() -> dict[str, Days]:
        rows = postgres.load(f'SELECT lpep_pickup_date, count(*) FROM "{pg_schema}".green_taxi '
                             "GROUP BY 1 ORDER BY 1")
        query = "SELECT {}, count(*) AS n FROM `{}` GROUP BY 1 ORDER BY 1"
        project = bigquery_emulator.project
        warehouse = bigquery.load(query.format("lpep_pickup_date",
                                               f"{project}.{dataset}.green_taxi"))
        file_table = bigquery.load(query.format("pickup_date",
                                                f"{project}.{dataset}.green_taxi_trips"))
        return {"postgres": per_day(rows), "lake": lake_days(storage.load(prefix)),
                "warehouse": per_day(warehouse),
                "parquet file": lake_days(storage.load(parquet_file)),
                "file table": per_day(file_table)}

    try:
        run_sequence(example_dir, options, targets)
    finally:
        postgres.engine.dispose()
