"""The control-flow example: a sensor, a dynamic block with reduce, a condition, a callback."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pandas as pd
import pytest

from jupyter_blocks.runner.run import run_target
from tests.example.conftest import EXAMPLE
from tests.helpers.kernels import execute, text_of

NOTEBOOK = "taxi_control_flow.ipynb"


@pytest.fixture
def flow_dir(tmp_path: Path) -> Path:
    target = tmp_path / "example"
    target.mkdir()
    for name in (NOTEBOOK, "io_config.yaml"):
        shutil.copy(EXAMPLE / name, target / name)
    shutil.copytree(EXAMPLE / "data", target / "data")
    return target


def sample_trips(*months: str) -> pd.DataFrame:
    return pd.concat([pd.read_csv(EXAMPLE / "data" / f"green_tripdata_{m}.csv.gz")
                      for m in months], ignore_index=True)


def test_default_profile_fans_out_per_month_and_skips_bigquery(flow_dir, capfd):
    finished = run_target(str(flow_dir / NOTEBOOK), echo=True)
    result = finished.result
    assert result.ok
    assert result.outcomes["load_month"].children == (2, 2, 0, 0)
    assert [n for n in result.outcomes if n.startswith("load_month:")] == [
        "load_month:2020-10", "load_month:2020-11"]
    per_zone = result.outputs["trips_per_zone"]
    assert per_zone.trips.sum() == len(sample_trips("2020-10", "2020-11"))
    assert result.outcomes["to_bigquery"].status == "skipped"
    assert result.outcomes["to_bigquery"].error == "condition has_bigquery returned False"
    assert "ok: load_month finished" in capfd.readouterr().out


def test_a_missing_month_makes_the_sensor_wait_then_fail_at_its_timeout(flow_dir):
    # The notebook's sensor waits up to 600 s: the test shortens its poke and timeout.
    text = (flow_dir / NOTEBOOK).read_text().replace("--poke-interval 5 --timeout 600",
                                                      "--poke-interval 0.1 --timeout 0.5")
    (flow_dir / NOTEBOOK).write_text(text)
    result = run_target(str(flow_dir / NOTEBOOK), echo=False,
                        variables={"months": ["2020-10", "2021-07"]}).result
    assert result.outcomes["months_landed"].status == "failed"
    assert result.outcomes["months_landed"].error.startswith(
        "sensor months_landed still false after 0.5 s")
    assert result.outcomes["load_month"].status == "skipped"


def test_the_example_runs_in_a_kernel(flow_dir):
    cells = execute(flow_dir / NOTEBOOK, allow_errors=False).cells
    shown = "\n".join(text_of(cell) for cell in cells)
    assert "load_month ×2 · 2 ran" in shown
    assert "– to_bigquery · condition has_bigquery returned False" in shown


@pytest.mark.bigquery
def test_a_profile_with_bigquery_exports_and_the_callback_answers(
        flow_dir, monkeypatch, bigquery_emulator, capfd):
    from jupyter_blocks.io import BigQuery

    monkeypatch.setenv("GOOGLE_PROJECT_ID", bigquery_emulator.project)
    monkeypatch.setenv("BIGQUERY_ENDPOINT", bigquery_emulator.endpoint)
    monkeypatch.setenv("POSTGRES_PASSWORD", "")
    for name in ("GOOGLE_APPLICATION_CREDENTIALS", "GCS_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    table = f"flow_{uuid.uuid4().hex[:8]}.trips_per_zone"
    result = run_target(str(flow_dir / NOTEBOOK), echo=True,
                        variables={"profile": "dev", "months": ["2020-10"],
                                   "bigquery_table": table}).result
    assert result.ok and result.outcomes["to_bigquery"].status == "ran"
    bigquery = BigQuery(project=bigquery_emulator.project, endpoint=bigquery_emulator.endpoint)
    counted = bigquery.load(f"SELECT sum(trips) AS n FROM `{bigquery_emulator.project}.{table}`")
    assert counted.n[0] == len(sample_trips("2020-10"))
    assert "ok: to_bigquery finished" in capfd.readouterr().out
