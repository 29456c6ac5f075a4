"""The exported NYC taxi example runs on its default profile under Mage 0.9.80 as it runs here.

The export is self-contained: the sample the ``source`` parameter names is carried into the
project, the notebook's own ``io_config.yaml`` is written (with Mage's ``DUCKDB_DATABASE``), and
the blocks find both through ``repo_path``, so both runners work from any working folder. The
blocks use ``jupyter_blocks.io``, which is installed in Mage's virtualenv as a user would.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from jupyter_blocks.io.duckdb import DuckDB
from jupyter_blocks.project.writer import export_notebook
from jupyter_blocks.runner.run import run_target
from tests.mage.harness import run_trigger

EXAMPLE = Path(__file__).parents[2] / "example_notebooks"
PIPELINE = "nyc_taxi_etl"


def test_the_example_runs_under_both_runners_from_another_folder(mage, tmp_path, monkeypatch):
    notebook_dir = tmp_path / "example"
    notebook_dir.mkdir()
    for name in (f"{PIPELINE}.ipynb", "io_config.yaml"):
        shutil.copy(EXAMPLE / name, notebook_dir / name)
    shutil.copytree(EXAMPLE / "data", notebook_dir / "data")
    project = tmp_path / "proj"
    exported = export_notebook(notebook_dir / f"{PIPELINE}.ipynb", project)
    assert sorted(exported.carried) == ["data/green_tripdata_2020-10.csv.gz",
                                        "data/green_tripdata_2020-11.csv.gz"]
    profiles = (project / "io_config.yaml").read_text()
    assert profiles.startswith("# Profiles of the NYC taxi example")
    assert "DUCKDB_DATABASE: \"{{ env_var('MAGE_REPO_PATH') }}/warehouse.duckdb\"" in profiles

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    ours = run_target(str(project), pipeline=PIPELINE, echo=False).result
    assert ours.ok, [(o.name, o.error) for o in ours.failed]
    with_ours = DuckDB(project / "warehouse.duckdb").load(
        "SELECT count(*) AS n FROM nyc_taxi.green_taxi")["n"][0]
    mage_run = run_trigger(project, PIPELINE, tmp_path / "mage_data", cwd=elsewhere)
    assert mage_run.returncode == 0, mage_run.stdout[-3000:] + mage_run.stderr[-3000:]
    assert set(mage_run.statuses.values()) == {"completed"}

    assert mage_run.output("pipeline_config") == ours.outputs["pipeline_config"]
    for block in ("load_green_taxi", "transform_taxi"):
        pd.testing.assert_frame_equal(mage_run.output(block).reset_index(drop=True),
                                      ours.outputs[block].reset_index(drop=True),
                                      check_dtype=False)
    # The SQL block rounds sums to 0.1, and DuckDB's round() changed between 1.4 (Mage's pin:
    # round(312.15::DOUBLE, 1) is 312.2) and 2.0 (312.1, the double being 312.1499...).
    by_mage, by_us = mage_run.output("trips_per_day"), ours.outputs["trips_per_day"]
    exact = ["pickup_date", "trips", "passengers"]
    pd.testing.assert_frame_equal(by_mage[exact], by_us[exact], check_dtype=False)
    pd.testing.assert_frame_equal(by_mage[["miles", "revenue"]], by_us[["miles", "revenue"]],
                                  check_dtype=False, check_exact=False, rtol=0, atol=0.101)
    assert len(ours.outputs["transform_taxi"]) == 4329
    assert mage_run.output("export_lake") == ours.outputs["export_lake"]
    assert mage_run.output("export_parquet_file") == ours.outputs["export_parquet_file"]
    # The SQL transformation of the Parquet file: the same rows (Mage keeps nanoseconds and
    # plain int64 where we keep microseconds and Int64; round() as above).
    by_mage, by_us = mage_run.output("trips_with_tips"), ours.outputs["trips_with_tips"]
    assert list(by_mage.columns) == list(by_us.columns) and len(by_mage) == len(by_us)
    exact = [c for c in by_us.columns if c != "tip_percent"]
    pd.testing.assert_frame_equal(by_mage[exact].astype(str), by_us[exact].astype(str))
    pd.testing.assert_series_equal(by_mage.tip_percent, by_us.tip_percent, check_dtype=False,
                                   check_exact=False, rtol=0, atol=0.101)
    # Mage runs R blocks where Rscript is on its PATH (here; its Docker image), with the
    # condition before it, and hands data frames over as CSV: integers come back as int64,
    # doubles as write.csv prints them (15 significant digits).
    assert exported.notes.count("pipeline: plain `mage run` skips its conditionals; Mage's "
                                "trigger runs (and `mage run --pipeline-run-id`) apply them") == 1
    pd.testing.assert_frame_equal(mage_run.output("payments_in_r"), ours.outputs["payments_in_r"],
                                  check_dtype=False, rtol=1e-13)
    # Both runners wrote the same warehouse tables in the project's DuckDB file.
    warehouse = DuckDB(project / "warehouse.duckdb")
    assert warehouse.load("SELECT count(*) AS n FROM nyc_taxi.green_taxi")["n"][0] == with_ours \
        == len(ours.outputs["transform_taxi"])
    assert warehouse.load("SELECT count(*) AS n FROM mage.green_taxi")["n"][0] == with_ours
    assert warehouse.load("SELECT count(*) AS n FROM nyc_taxi.green_taxi_trips")["n"][0] == \
        with_ours
