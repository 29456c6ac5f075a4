"""The course's schedule on the example: daily at 05:00 UTC, exported, run, and backfilled."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from jupyter_blocks.cli import cli
from jupyter_blocks.io import DuckDB
from jupyter_blocks.project.loading import load_pipeline
from jupyter_blocks.project.writer import export_notebook
from jupyter_blocks.schedule.backfill import backfill
from jupyter_blocks.schedule.scheduler import Scheduler
from tests.helpers.scheduled import clock_at

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

EXAMPLE = Path(__file__).parents[2] / "example_notebooks"
NOTEBOOK = "nyc_taxi_etl.ipynb"


@pytest.fixture
def example(tmp_path):
    folder = tmp_path / "example"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns(
        ".jupyter_blocks", "lake", "*.duckdb", ".ipynb_checkpoints"))
    return folder


def test_the_homework_trigger_is_daily_at_five_utc_and_exported(example, tmp_path):
    [trigger] = load_pipeline(example / NOTEBOOK).settings.triggers
    assert (trigger.name, trigger.schedule_interval, trigger.status) == ("daily", "@daily",
                                                                         "active")
    export_notebook(example / NOTEBOOK, tmp_path / "project")
    written = yaml.safe_load((tmp_path / "project" / "pipelines" / "nyc_taxi_etl" /
                              "triggers.yaml").read_text())
    [exported] = written["triggers"]
    assert exported["schedule_interval"] == "@daily" and exported["status"] == "active"
    assert str(exported["start_time"]).endswith("05:00:00")
    listed = CliRunner().invoke(cli, ["schedule", "list", str(example / NOTEBOOK)])
    assert listed.exit_code == 0 and "@daily at 05:00 UTC" in listed.output


def test_the_scheduled_run_at_five_is_the_headless_run(example):
    Scheduler([str(example / NOTEBOOK)], clock=clock_at("2024-01-15T04:00:00")).once()
    assert Scheduler([str(example / NOTEBOOK)], clock=clock_at("2024-01-15T05:00:01")).once()
    warehouse = DuckDB.with_config("default", directory=example)
    trips = warehouse.load("SELECT count(*) AS n FROM nyc_taxi.green_taxi")
    assert int(trips["n"][0]) == 4329  # both sample months, as `jupyter-blocks run`


def test_a_backfill_of_the_course_months_adds_them_up(example):
    pipeline = load_pipeline(example / NOTEBOOK)
    import datetime as dt

    result = backfill(pipeline, dt.datetime(2020, 10, 1), dt.datetime(2020, 12, 1), "month",
                      variables={"months": "interval"}, parallel=2)
    assert result.ok and len(result.intervals) == 2, [i.error for i in result.intervals]
    warehouse = DuckDB.with_config("default", directory=example)
    days = warehouse.load("SELECT count(DISTINCT lpep_pickup_date) AS days, "
                          "min(lpep_pickup_date) AS first, max(lpep_pickup_date) AS last "
                          "FROM nyc_taxi.green_taxi")
    assert int(days["days"][0]) == 61
    assert str(days["first"][0]) == "2020-10-01" and str(days["last"][0]) == "2020-11-30"
