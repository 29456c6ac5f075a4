"""A project written the way Mage writes it, with sensors, conditionals, callbacks, a dynamic
block and retries, runs here as it runs under Mage 0.9.80 (``tests/golden/mage_control_flow``;
Mage's results were recorded by running it under Mage's scheduler path)."""

import shutil
from pathlib import Path

import pytest

from jupyter_blocks.runner.run import run_target

FIXTURE = Path(__file__).parents[1] / "golden" / "mage_control_flow"


@pytest.fixture
def project(tmp_path):
    target = tmp_path / "proj"
    shutil.copytree(FIXTURE, target, ignore=shutil.ignore_patterns("mage_data", "__pycache__"))
    return target


def test_the_control_flow_pipeline_gives_what_mage_gives(project, capfd):
    finished = run_target(str(project), pipeline="control_flow")
    result = finished.result
    statuses = {name: o.status for name, o in result.outcomes.items()}
    assert result.ok
    # Mage: completed, except the blocks behind the false conditional (condition_failed).
    assert {name for name, s in statuses.items() if s == "skipped"} == {
        "weekend_report", "publish_weekend_report"}
    assert result.outcomes["weekend_report"].why == "condition"
    # Mage: the retried block succeeds on its second attempt.
    assert result.outcomes["summarize_orders"].attempts == 2
    assert result.outputs["summarize_orders"]["attempt"] == 2
    # Mage: region totals east 14.0, north 7.0, west 10.0, one child per region, in order.
    assert [(r["region"], r["total"], r["child_index"]) for r in result.outputs["gather_totals"]
            ] == [("east", 14.0, 0), ("north", 7.0, 1), ("west", 10.0, 2)]
    assert [n for n in statuses if n.startswith("region_total:")] == [
        "region_total:east", "region_total:north", "region_total:west"]
    printed = capfd.readouterr().out
    assert "callback success: load_orders produced 6" in printed
    assert "callback success: summarize_orders produced 3" in printed
    assert "region totals: east=14.0, north=7.0, west=10.0" in printed


def test_a_failure_fires_the_failure_callback_with_the_error(project, capfd):
    finished = run_target(str(project), pipeline="control_flow_failure")
    result = finished.result
    assert result.status == "failed"
    failed = [o.name for o in result.failed]
    assert failed == ["reject_orders"]
    assert result.outcomes["archive_orders"].error == "not run because reject_orders failed"
    printed = capfd.readouterr().out
    assert "callback failure: reject_orders raised" in printed
