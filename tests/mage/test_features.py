"""An exported pipeline with every kind of block runs under Mage 0.9.80 as it runs here.

``tests/notebooks/mage_features.ipynb``: a sensor, a data loader with a ``@test``, a plain-form
block reading a parameter, a block reading the run's variables (``ds``, ``execution_date``,
``logger``, Mage's names), a SQL block on DuckDB naming its upstream, a DAG-style condition
that passes and one that does not, a success callback, a dynamic block returning a bare list
with a ``--reduce`` child, and a block retried once. It is exported once, run once with
``jupyter-blocks run`` and once as a Mage trigger runs it (from another working folder), and
each test compares one kind of block.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from jupyter_blocks.history.store import RunStore
from jupyter_blocks.project.writer import ExportResult, export_notebook
from jupyter_blocks.runner.run import FinishedRun, run_target
from tests.mage.harness import MageRun, run_trigger

NOTEBOOK = Path(__file__).parents[1] / "notebooks" / "mage_features.ipynb"
PIPELINE = "mage_features"
EXECUTION_DATE = dt.datetime(2024, 1, 15)  # the trigger run's execution date


@dataclass
class Runs:
    export: ExportResult
    notebook: FinishedRun
    project: FinishedRun
    mage: MageRun
    notebook_dir: Path


@pytest.fixture(scope="module")
def runs(mage: None, tmp_path_factory: pytest.TempPathFactory) -> Runs:
    root = tmp_path_factory.mktemp("features")
    notebook_dir = root / "notebook"
    notebook_dir.mkdir()
    notebook = notebook_dir / NOTEBOOK.name
    shutil.copy(NOTEBOOK, notebook)
    project = root / "proj"
    exported = export_notebook(notebook, project)
    ours = run_target(str(notebook), execution_date=EXECUTION_DATE, echo=False)
    from_project = run_target(str(project), pipeline=PIPELINE, execution_date=EXECUTION_DATE,
                              echo=False)
    elsewhere = root / "elsewhere"
    elsewhere.mkdir()
    mage_run = run_trigger(project, PIPELINE, root / "mage_data", cwd=elsewhere)
    return Runs(exported, ours, from_project, mage_run, notebook_dir)


def records(value: Any) -> Any:
    """A DataFrame as comparable rows; anything else as it is."""
    if hasattr(value, "to_dict"):
        return value.reset_index(drop=True).to_dict("records")
    return value


def test_mage_runs_every_block_of_the_export(runs: Runs) -> None:
    assert runs.mage.returncode == 0, runs.mage.stdout[-3000:] + runs.mage.stderr[-3000:]
    assert runs.notebook.result.ok and runs.project.result.ok
    completed = {name for name, status in runs.mage.statuses.items() if status == "completed"}
    assert completed == set(runs.mage.statuses) - {"weekend"}


def test_plain_blocks_and_their_tests(runs: Runs) -> None:
    for block in ("orders", "big"):
        ours = records(runs.notebook.result.outputs[block])
        assert records(runs.mage.output(block)) == ours
        assert records(runs.project.result.outputs[block]) == ours
    # Mage ran the loader's @test (a trigger run always does), as we did.
    assert runs.notebook.result.outcomes["orders"].tests == (1, 1)


def test_variables_reach_the_block_under_mage(runs: Runs) -> None:
    ours = runs.notebook.result.outputs["run_facts"]
    assert ours["ds"] == "2024-01-15" and ours["pipeline_uuid"] == PIPELINE
    assert runs.mage.output("run_facts") == ours
    # kwargs["logger"].info("... %s", ds) went to Mage's block log.
    assert "run_facts for 2024-01-15" in runs.mage.messages()


def test_sql_block_on_duckdb(runs: Runs) -> None:
    ours = records(runs.notebook.result.outputs["totals"])
    assert [row["region"] for row in ours] == ["east", "north", "west"]
    assert records(runs.mage.output("totals")) == ours
    sql = (runs.export.project / "transformers/totals.sql").read_text()
    assert "FROM {{ df_1 }}" in sql


def test_conditions_gate_the_same_blocks(runs: Runs) -> None:
    assert runs.mage.output("report") == runs.notebook.result.outputs["report"]
    assert runs.notebook.result.outcomes["weekend"].why == "condition"
    assert runs.mage.statuses["weekend"] == "condition_failed"


def test_the_callback_runs_under_mage(runs: Runs) -> None:
    line = "callback success: report gave 5 rows"
    store = RunStore.for_directory(runs.notebook_dir)
    assert line in store.block_logs(runs.notebook.result.run_id, "report_status@report")
    assert line in runs.mage.messages()


def test_dynamic_block_returning_a_bare_list_with_reduce(runs: Runs) -> None:
    ours = runs.notebook.result.outputs["all_totals"]
    assert [row["region"] for row in ours["totals"]] == ["east", "north", "west"]
    assert runs.mage.output("all_totals") == ours
    for index in range(3):
        assert runs.mage.statuses[f"region_total:{index}"] == "completed"
        assert runs.mage.output("region_total", child=index) == \
            runs.notebook.result.outputs[f"region_total:{index}"]


def test_retried_block_succeeds_on_its_second_attempt(runs: Runs) -> None:
    assert runs.notebook.result.outputs["flaky"] == {"attempt": 2, "rows": 5}
    assert runs.mage.output("flaky") == {"attempt": 2, "rows": 5}
    assert runs.notebook.result.outcomes["flaky"].attempts == 2


def test_what_mage_does_differently_is_said_at_export(runs: Runs) -> None:
    assert runs.export.notes == [
        "block `ready` (cell 3): Mage pokes it every 60 s, not every 5 s; its 30 s timeout "
        "holds only in Mage's scheduler, not under `mage run`",
        "block `wanted` (cell 10): Mage runs it before `weekend` with `weekend`'s inputs (big), "
        "not its own upstreams' (none)",
        "pipeline: plain `mage run` skips its conditionals, callbacks and retries and fails on "
        "its dynamic blocks; Mage's trigger runs (and `mage run --pipeline-run-id`) apply them",
    ]
