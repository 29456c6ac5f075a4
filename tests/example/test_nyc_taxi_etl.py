"""The flagship example, end to end: in a kernel, headless, from HTTP, on real rows, on services."""

from __future__ import annotations

import datetime as dt
import gzip
import re
import uuid
import zlib
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from click.testing import CliRunner

from jupyter_blocks.cli import cli
from tests.example.conftest import EXAMPLE, NOTEBOOK, REPO_ROOT
from tests.helpers.kernels import error_of, execute, text_of
from tests.helpers.services import unavailable

SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
YELLOW = SHARED_DATA / "yellow_tripdata_2021-01_head.csv"


def expected(months: tuple[str, ...] = ("2020-10", "2020-11")) -> pd.DataFrame:
    """The clean rows of the sample, computed without the pipeline."""
    frames = [pd.read_csv(EXAMPLE / "data" / f"green_tripdata_{m}.csv.gz") for m in months]
    trips = pd.concat(frames, ignore_index=True)
    return trips[(trips.passenger_count > 0) & (trips.trip_distance > 0)]


def run_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["run", *args], catch_exceptions=False)
    return result.exit_code, result.output + result.stderr


def check_default_outputs(folder: Path, clean: pd.DataFrame) -> None:
    """Lake partitions, both DuckDB warehouse tables, one partition per pickup day."""
    days = sorted(pd.to_datetime(clean.lpep_pickup_datetime).dt.strftime("%Y-%m-%d").unique())
    lake = folder / "lake" / "green_taxi"
    partitions = sorted(path.name for path in lake.iterdir())
    assert partitions == [f"lpep_pickup_date={day}" for day in days]
    assert "lpep_pickup_date=2009-01-01" in partitions  # stray dates are kept, in their own day
    with duckdb.connect(str(folder / "warehouse.duckdb"), read_only=True) as connection:
        pg_rows = connection.execute("SELECT count(*) FROM mage.green_taxi").fetchone()[0]
        wh_rows, wh_days = connection.execute(
            "SELECT count(*), count(DISTINCT lpep_pickup_date) FROM nyc_taxi.green_taxi"
        ).fetchone()
        columns = [row[0] for row in connection.execute("DESCRIBE mage.green_taxi").fetchall()]
    assert pg_rows == wh_rows == len(clean)
    assert wh_days == len(days)
    assert columns[:3] == ["vendor_id", "lpep_pickup_datetime", "lpep_dropoff_datetime"]
    assert {"ratecode_id", "pu_location_id", "do_location_id", "lpep_pickup_date"} <= set(columns)
    check_parquet_file(folder / "lake" / "nyc_taxi_data.parquet", clean)
    with duckdb.connect(str(folder / "warehouse.duckdb"), read_only=True) as connection:
        check_file_table(connection.execute("SELECT * FROM nyc_taxi.green_taxi_trips").df(), clean)


#: The columns of the SQL step's table (trips_with_tips), in order.
FILE_TABLE_COLUMNS = [
    "vendor_id", "lpep_pickup_datetime", "lpep_dropoff_datetime", "pickup_date",
    "pu_location_id", "do_location_id", "passenger_count", "trip_distance", "payment_type",
    "fare_amount", "tip_amount", "total_amount", "tip_percent"]


def check_file_table(table: pd.DataFrame, clean: pd.DataFrame) -> None:
    """The SQL step's table: every clean row, its columns, each tip as a share of the fare."""
    assert list(table.columns) == FILE_TABLE_COLUMNS
    assert len(table) == len(clean)
    assert table.fare_amount.sum() == pytest.approx(clean.fare_amount.sum())
    paid = clean[clean.fare_amount > 0]
    shares = (100 * paid.tip_amount / paid.fare_amount).round(1)
    assert table.tip_percent.notna().sum() == len(paid)
    assert table.tip_percent.sum() == pytest.approx(shares.sum(), abs=0.05 * len(paid))
    assert sorted(str(day)[:10] for day in table.pickup_date) == sorted(
        clean.lpep_pickup_datetime.str[:10])


def check_parquet_file(path: Path | bytes, clean: pd.DataFrame) -> None:
    """The unpartitioned export: one Parquet file holding every clean row, typed."""
    import io

    import pyarrow.parquet as pq

    source = io.BytesIO(path) if isinstance(path, bytes) else path
    data = pq.read_table(source).to_pandas()
    assert len(data) == len(clean)
    assert str(data.vendor_id.dtype) == "Int64" and str(data.passenger_count.dtype) == "Int64"
    assert str(data.lpep_pickup_datetime.dtype) == "datetime64[us]"
    assert data.total_amount.sum() == pytest.approx(clean.total_amount.sum())
    assert sorted(data.lpep_pickup_datetime.astype(str)) == sorted(clean.lpep_pickup_datetime)


@pytest.mark.kernel
def test_notebook_runs_in_a_kernel_on_the_default_profile(example_dir):
    notebook = execute(example_dir / NOTEBOOK)
    errors = [text_of(cell) for cell in notebook.cells if error_of(cell)]
    assert not errors, errors[0]
    clean = expected()
    check_default_outputs(example_dir, clean)
    transform = next(c for c in notebook.cells if c.source.startswith("%%block transform_taxi"))
    assert "tests 3/3 passed" in text_of(transform)
    sql = next(c for c in notebook.cells if c.source.startswith("%%block trips_per_day"))
    summary = text_of(sql)
    assert "trips_per_day · ran" in summary and "2020-10-01" in summary
    assert f"{clean.lpep_pickup_datetime.str[:10].nunique()} rows × 5 cols" in summary
    sql_step = next(c for c in notebook.cells if c.source.startswith("%%block trips_with_tips"))
    assert f"{len(clean):,} rows × 13 cols" in text_of(sql_step)
    r_cell = next(c for c in notebook.cells if c.source.startswith("%%block payments_in_r"))
    assert "payments_in_r · ran" in text_of(r_cell) and "rows × 4 cols" in text_of(r_cell)


@pytest.mark.kernel
def test_papermill_mode_with_a_parameter_runs_without_a_notice(example_dir):
    import subprocess
    import sys

    import nbformat

    out = example_dir / "executed.ipynb"
    done = subprocess.run([sys.executable, "-m", "jupyter_blocks.cli", "run",
                           str(example_dir / NOTEBOOK), "--output", str(out), "-q",
                           "-p", "months", "2020-10"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout + done.stderr == ""  # no papermill or kernel notice: -q prints failures
    loader = next(cell for cell in nbformat.read(out, as_version=4).cells
                  if cell.source.startswith("%%block load_green_taxi"))
    printed = text_of(loader)
    assert "green_tripdata_2020-10.csv.gz: 3,004 rows" in printed  # the parameter is used
    assert "green_tripdata_2020-11" not in printed


def test_headless_run_from_the_parent_folder(example_dir, monkeypatch):
    monkeypatch.chdir(example_dir.parent)  # as `jupyter-blocks run example_notebooks/...`
    code, output = run_cli(f"{example_dir.name}/{NOTEBOOK}")
    assert code == 0, output
    clean = expected()
    check_default_outputs(example_dir, clean)
    assert "mage.green_taxi goes to the DuckDB warehouse" in output
    assert f"wrote {len(clean):,} rows in" in output
    assert f"into nyc_taxi.green_taxi in DuckDB {example_dir / 'warehouse.duckdb'}" in output
    days = clean.lpep_pickup_datetime.str[:10].nunique()
    # The SQL summary ran: one row per pickup day.
    assert re.search(rf"trips_per_day\b.*\bran\b.*\b{days} rows", output), output


def test_source_over_http_with_a_cut_download(example_dir, http_folder, monkeypatch):
    base, served = http_folder
    whole = (EXAMPLE / "data" / "green_tripdata_2020-10.csv.gz").read_bytes()
    cut = whole[: len(whole) * 2 // 3]
    (served / "green_tripdata_2020-10.csv.gz").write_bytes(cut)
    text = zlib.decompressobj(wbits=31).decompress(cut).decode()
    whole_rows = text.count("\n") - 1  # header, then every row that has its newline
    monkeypatch.chdir(example_dir)
    code, output = run_cli(
        NOTEBOOK,
        "--only",
        "load_green_taxi",
        "--var",
        f"source={base}/green_tripdata_{{month}}.csv.gz",
        "--var",
        "months=2020-10",
    )
    assert code == 0, output
    assert f"{base}/green_tripdata_2020-10.csv.gz: dropped the cut last line" in output
    assert f"{base}/green_tripdata_2020-10.csv.gz: {whole_rows:,} rows" in output


def test_source_over_http_whole_file_runs_every_block(example_dir, http_folder, monkeypatch):
    base, served = http_folder
    (served / "october.csv.gz").write_bytes(
        (EXAMPLE / "data" / "green_tripdata_2020-10.csv.gz").read_bytes()
    )
    monkeypatch.chdir(example_dir)
    code, output = run_cli(NOTEBOOK, "--var", f"source={base}/october.csv.gz")
    assert code == 0, output
    assert "dropped" not in output
    assert f"wrote {len(expected(('2020-10',))):,} rows to mage.green_taxi" in output


def test_loader_and_transformer_on_real_yellow_rows_with_a_cut_last_line(example_dir, capsys):
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} does not exist: no real taxi rows to test against")
    from jupyter_blocks.runner.run import run_target

    finished = run_target(
            target=str(example_dir / NOTEBOOK),
            only="transform_taxi",
            variables={"source": str(YELLOW), "months": "2021-01"},
        )
    assert finished.result.ok, [o.error for o in finished.result.failed]
    raw = YELLOW.read_text()
    assert not raw.endswith("\n")
    loaded = finished.result.outputs["load_green_taxi"]
    assert len(loaded) == raw.count("\n") - 1  # every whole row, not the cut one
    assert str(loaded.tpep_pickup_datetime.dtype) == "datetime64[us]"
    assert str(loaded.VendorID.dtype) == "Int64" and str(loaded.passenger_count.dtype) == "Int64"
    assert "dropped the cut last line '1,2021-0" in capsys.readouterr().out
    clean = finished.result.outputs["transform_taxi"]
    assert 0 < len(clean) < len(loaded)
    assert (clean.passenger_count > 0).all() and (clean.trip_distance > 0).all()
    assert clean.tpep_pickup_date.iloc[0] == dt.date(2021, 1, 1)
    assert {"vendor_id", "pu_location_id", "do_location_id", "ratecode_id"} <= set(clean.columns)


def test_sample_is_small_deterministic_and_dirty(tmp_path):
    import subprocess
    import sys

    subprocess.run(
        [sys.executable, str(EXAMPLE / "make_sample.py"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    for path in sorted((EXAMPLE / "data").glob("*.csv.gz")):
        assert (tmp_path / path.name).read_bytes() == path.read_bytes(), path.name
        assert path.stat().st_size < 200_000
    trips = pd.read_csv(tmp_path / "green_tripdata_2020-10.csv.gz")
    assert len(trips.columns) == 20 and 2000 < len(trips) < 10000
    assert trips.VendorID.isna().any() and trips.passenger_count.isna().any()
    assert (trips.passenger_count == 0).any() and (trips.trip_distance == 0).any()
    assert trips.lpep_pickup_datetime.str.startswith("2009-01-01").any()
    with gzip.open(tmp_path / "green_tripdata_2020-10.csv.gz", "rt") as stream:
        assert stream.readline().startswith("VendorID,lpep_pickup_datetime,")


@pytest.mark.postgres
@pytest.mark.gcs
@pytest.mark.bigquery
def test_dev_profile_exports_to_postgres_gcs_and_bigquery(
    example_dir, monkeypatch, postgres_server, pg_schema, gcs_emulator, bigquery_emulator
):
    from jupyter_blocks.io import BigQuery, GoogleCloudStorage

    environment = {
        "POSTGRES_HOST": str(postgres_server["host"]),
        "POSTGRES_PORT": str(postgres_server["port"]),
        "POSTGRES_DBNAME": str(postgres_server["dbname"]),
        "POSTGRES_USER": str(postgres_server["user"]),
        "POSTGRES_PASSWORD": "",  # trust authentication
        "GOOGLE_PROJECT_ID": bigquery_emulator.project,
        "GCS_ENDPOINT": gcs_emulator.endpoint,
        "BIGQUERY_ENDPOINT": bigquery_emulator.endpoint,
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    for name in ("GOOGLE_APPLICATION_CREDENTIALS", "STORAGE_EMULATOR_HOST"):
        monkeypatch.delenv(name, raising=False)
    folder = f"example-{uuid.uuid4().hex[:8]}"
    prefix = f"gs://{gcs_emulator.bucket}/{folder}/green_taxi"
    dataset = f"nyc_taxi_{uuid.uuid4().hex[:8]}"
    monkeypatch.chdir(example_dir)
    code, output = run_cli(
        NOTEBOOK,
        "--var",
        "profile=dev",
        "--var",
        "months=2020-10",
        "--var",
        f"postgres_table={pg_schema}.green_taxi",
        "--var",
        f"gcs_path={prefix}",
        "--var",
        f"gcs_file=gs://{gcs_emulator.bucket}/{folder}/nyc_taxi_data.parquet",
        # The emulator's `*` does not cross `/`; real BigQuery takes the default (gcs_path/*).
        "--var",
        f"bigquery_source={prefix}/**",
        "--var",
        f"warehouse_table={dataset}.green_taxi",
        "--var",
        f"file_table={dataset}.green_taxi_trips",
    )
    assert code == 0, output
    clean = expected(("2020-10",))
    days = clean.lpep_pickup_datetime.str[:10].nunique()

    import psycopg

    with psycopg.connect(**postgres_server) as connection:  # type: ignore[arg-type]
        rows = connection.execute(f'SELECT count(*) FROM "{pg_schema}".green_taxi').fetchone()
    assert rows is not None and rows[0] == len(clean)

    storage = GoogleCloudStorage(endpoint=gcs_emulator.endpoint)
    lake = storage.load(prefix)
    assert len(lake) == len(clean) and lake.lpep_pickup_date.nunique() == days
    # The unpartitioned step wrote one object, beside the dataset's folder.
    bucket = storage.client.bucket(gcs_emulator.bucket)
    beside = sorted(blob.name for blob in bucket.list_blobs(prefix=f"{folder}/", delimiter="/"))
    assert beside == [f"{folder}/nyc_taxi_data.parquet"]
    check_parquet_file(bucket.blob(beside[0]).download_as_bytes(), clean)

    bigquery = BigQuery(project=bigquery_emulator.project, endpoint=bigquery_emulator.endpoint)
    counted = bigquery.load(
        f"SELECT count(*) AS n, count(DISTINCT lpep_pickup_date) AS days "
        f"FROM `{bigquery_emulator.project}.{dataset}.green_taxi`"
    )
    assert counted.n[0] == len(clean) and counted.days[0] == days
    # The SQL step's table, made on BigQuery from the Parquet object.
    check_file_table(bigquery.load(
        f"SELECT * FROM `{bigquery_emulator.project}.{dataset}.green_taxi_trips`"), clean)
    # Both SQL blocks ran on BigQuery: their upstream frames went to its scratch dataset.
    for upstream in ("load_parquet_file", "transform_taxi"):
        loaded = bigquery.load(f"SELECT count(*) AS n FROM jupyter_blocks_scratch.{upstream}")
        assert loaded.n[0] == len(clean), upstream
    assert not (example_dir / "warehouse.duckdb").exists()  # nothing went to the embedded ones
    assert f"wrote {len(clean):,} rows to {pg_schema}.green_taxi in PostgreSQL" in output


@pytest.mark.parametrize(("vendor", "message"), [
    ("5", "vendor_id values not among [1, 2, 6, 7]: [5]"),
    ("", "1 trips without vendor_id"),
])
def test_the_vendor_test_fails_on_a_vendor_id_not_in_the_column(example_dir, monkeypatch,
                                                                vendor, message):
    trips = pd.read_csv(EXAMPLE / "data" / "green_tripdata_2020-10.csv.gz", dtype=str,
                        keep_default_na=False)
    kept = trips.index[(trips.passenger_count.replace("", "0").astype(float) > 0)
                       & (trips.trip_distance.astype(float) > 0)]
    trips.loc[kept[0], "VendorID"] = vendor  # a trip the transformer keeps
    trips.to_csv(example_dir / "changed.csv", index=False)
    monkeypatch.chdir(example_dir)
    code, output = run_cli(NOTEBOOK, "--only", "transform_taxi", "--var", "source=changed.csv")
    assert code == 1, output
    assert ("test `vendor_id_is_one_of_the_existing_values` failed: AssertionError: "
            + message) in output


def test_the_r_summary_is_pandas_groupby_of_the_clean_trips(example_dir):
    from jupyter_blocks.core.errors import MissingDependencyError
    from jupyter_blocks.io.r import require_r
    from jupyter_blocks.runner.run import run_target

    try:
        require_r()
    except MissingDependencyError:
        unavailable("R with jsonlite", "apt-get install r-base-core r-cran-jsonlite")
    finished = run_target(str(example_dir / NOTEBOOK), echo=False)
    assert finished.result.ok, [o.error for o in finished.result.failed]
    clean = finished.result.outputs["transform_taxi"]
    by_pandas = clean.groupby("payment_type").agg(
        trips=("fare_amount", "size"), mean_fare=("fare_amount", "mean"),
        mean_total=("total_amount", "mean")).reset_index()
    by_r = finished.result.outputs["payments_in_r"]
    assert list(by_r.columns) == ["payment_type", "trips", "mean_fare", "mean_total"]
    assert by_r.trips.sum() == clean.payment_type.notna().sum()
    pd.testing.assert_frame_equal(by_r, by_pandas, check_dtype=False, rtol=1e-12)


def test_without_r_the_r_summary_is_skipped_with_its_reason(example_dir, monkeypatch):
    monkeypatch.setenv("JUPYTER_BLOCKS_RSCRIPT", str(example_dir / "no" / "Rscript"))
    monkeypatch.chdir(example_dir)
    code, output = run_cli(NOTEBOOK)
    assert code == 0, output
    assert "payments_in_r is skipped: R is not installed: apt-get install r-base-core" in output
    assert "payments_in_r skipped: condition r_is_installed@payments_in_r returned False" in output
