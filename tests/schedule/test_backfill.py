"""Backfills: one run per interval, resumable after a failure or kill -9, N intervals at once."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys

import pytest
from click.testing import CliRunner

from jupyter_blocks.cli import cli
from jupyter_blocks.core.errors import ConfigError
from jupyter_blocks.history.store import RunStore
from jupyter_blocks.project.loading import load_pipeline
from jupyter_blocks.schedule.backfill import backfill, pipeline_code
from tests.helpers.scheduled import LOAD, TOTAL, scheduled_notebook

pytestmark = pytest.mark.timeout(180)

OCTOBER = dt.datetime(2020, 10, 1)


def notebook_in(tmp_path, **options):
    return scheduled_notebook(tmp_path / "taxi.ipynb", "{}", **options)


def days(result):
    return [(i.start.strftime("%m-%d"), i.status) for i in result.intervals]


def test_one_run_per_interval_with_its_variables(tmp_path):
    pipeline = load_pipeline(notebook_in(tmp_path))
    result = backfill(pipeline, OCTOBER, dt.datetime(2020, 10, 4), "day")
    assert result.ok and days(result) == [("10-01", "success"), ("10-02", "success"),
                                          ("10-03", "success")]
    store = RunStore.for_directory(tmp_path)
    runs = store.list_runs(trigger=result.backfill_id)
    assert len(runs) == 3 and {r["trigger"] for r in runs} == {f"backfill:{result.backfill_id}"}
    variables = sorted((r["variables"] for r in runs), key=lambda v: v["ds"])
    assert [v["ds"] for v in variables] == ["2020-10-01", "2020-10-02", "2020-10-03"]
    assert variables[0]["execution_date"] == "2020-10-01 00:00:00"
    assert variables[0]["interval_end_datetime"] == "2020-10-02 00:00:00"
    assert variables[0]["interval_seconds"] == 86400 and variables[0]["hr"] == "00"


def test_the_end_is_excluded_unless_asked_and_months_and_cron_work(tmp_path):
    pipeline = load_pipeline(notebook_in(tmp_path))
    months = backfill(pipeline, OCTOBER, dt.datetime(2021, 1, 1), "month")
    assert [i.start.month for i in months.intervals] == [10, 11, 12]
    november = months.intervals[1]
    assert (november.end - november.start).days == 30
    included = backfill(pipeline, OCTOBER, dt.datetime(2020, 10, 3), "day", include_end=True)
    assert len(included.intervals) == 3
    cron = backfill(pipeline, OCTOBER, dt.datetime(2020, 10, 2), "0 5,17 * * *")
    assert [i.start.hour for i in cron.intervals] == [5, 17]
    with pytest.raises(ConfigError, match="neither one of hour, day, week, month nor a cron"):
        backfill(pipeline, OCTOBER, dt.datetime(2020, 10, 2), "daily")
    with pytest.raises(ConfigError, match="is before --start"):
        backfill(pipeline, OCTOBER, dt.datetime(2020, 9, 1), "day")


def test_intervals_done_with_the_same_code_are_skipped_and_new_code_runs_again(tmp_path):
    notebook = notebook_in(tmp_path)
    first = backfill(load_pipeline(notebook), OCTOBER, dt.datetime(2020, 10, 3), "day")
    longer = backfill(load_pipeline(notebook), OCTOBER, dt.datetime(2020, 10, 5), "day")
    assert days(longer) == [("10-01", "done before"), ("10-02", "done before"),
                            ("10-03", "success"), ("10-04", "success")]
    assert first.backfill_id != longer.backfill_id
    # A comment is not a change of code; a new line of logic is.
    scheduled_notebook(notebook, "{}", LOAD + "# the same\n", TOTAL)
    same = backfill(load_pipeline(notebook), OCTOBER, dt.datetime(2020, 10, 5), "day")
    assert {status for _, status in days(same)} == {"done before"}
    scheduled_notebook(notebook, "{}", LOAD, TOTAL.replace("len(load)", "len(load) + 1"))
    changed = backfill(load_pipeline(notebook), OCTOBER, dt.datetime(2020, 10, 3), "day")
    assert {status for _, status in days(changed)} == {"success"}


def test_a_failed_interval_fails_the_backfill_and_resume_retries_only_it(tmp_path):
    notebook = notebook_in(tmp_path, fail_on="2020-10-02")
    result = backfill(load_pipeline(notebook), OCTOBER, dt.datetime(2020, 10, 4), "day")
    assert not result.ok
    assert days(result) == [("10-01", "success"), ("10-02", "failed"), ("10-03", "success")]
    failed = result.intervals[1]
    assert "block `load`" in failed.error and "no trips for 2020-10-02" in failed.error
    # The bug is fixed: `backfill resume` runs the failed day only; what succeeded stays.
    scheduled_notebook(notebook, "{}", LOAD.replace("raise ValueError", "print"), TOTAL)
    done = CliRunner().invoke(cli, ["backfill", "resume", result.backfill_id, str(notebook)])
    assert done.exit_code == 0, done.output
    after = RunStore.for_directory(tmp_path).orchestration().backfill(result.backfill_id)
    assert [i["status"] for i in after["intervals"]] == ["success", "success", "success"]
    assert after["status"] == "success"
    kept = {i.start.strftime("%Y-%m-%d"): i.run_id for i in result.intervals}
    assert [i["run_id"] for i in after["intervals"]][0::2] == [kept["2020-10-01"],
                                                               kept["2020-10-03"]]
    # The same command without resume: the code changed, so the days that ran with the old
    # code run again; the one that ran with this code is done.
    again = backfill(load_pipeline(notebook), OCTOBER, dt.datetime(2020, 10, 4), "day")
    assert days(again) == [("10-01", "success"), ("10-02", "done before"),
                           ("10-03", "success")]


def test_an_interrupted_interval_resumes_its_own_run(tmp_path):
    notebook = notebook_in(tmp_path)
    pipeline = load_pipeline(notebook)
    result = backfill(pipeline, OCTOBER, dt.datetime(2020, 10, 3), "day")
    store = RunStore.for_directory(tmp_path)
    orchestration = store.orchestration()
    second = result.intervals[1]
    orchestration.interval_done(result.backfill_id, second.start, "interrupted", second.run_id,
                                pipeline_code(pipeline))
    orchestration.backfill_done(result.backfill_id, "interrupted")
    resumed = backfill(pipeline, OCTOBER, dt.datetime(2020, 10, 3), "day")
    assert resumed.backfill_id == result.backfill_id and resumed.resumed
    assert days(resumed) == [("10-01", "done before"), ("10-02", "success")]
    assert resumed.intervals[1].run_id == second.run_id


def test_kill_9_mid_backfill_then_the_same_command_finishes_it(tmp_path):
    notebook = notebook_in(tmp_path, pause=0.4)
    command = [sys.executable, "-m", "jupyter_blocks.cli", "backfill", str(notebook),
               "--start", "2020-10-01", "--end", "2020-10-11", "--interval", "day", "--json"]
    env = {k: v for k, v in os.environ.items() if k != "JUPYTER_BLOCKS_STORE"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    finished = []
    assert process.stdout is not None
    for line in process.stdout:
        event = json.loads(line)
        if event["event"] == "interval_finished":
            finished.append(event)
            if len(finished) == 3:
                break
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    store = RunStore.for_directory(tmp_path)
    [killed] = store.orchestration().backfills()
    assert killed["status"] == "interrupted"  # not running forever
    first_runs = {e["start"]: e["run_id"] for e in finished}
    again = subprocess.run(command, capture_output=True, text=True, env=env)
    assert again.returncode == 0, again.stderr
    events = [json.loads(line) for line in again.stdout.splitlines()]
    assert events[0]["event"] == "backfill_started" and events[0]["resumed"]
    assert events[0]["backfill_id"] == killed["backfill_id"]
    redone = [e["start"] for e in events if e["event"] == "interval_finished"]
    assert not set(redone) & set(first_runs) and len(redone) == 10 - len(first_runs)
    record = store.orchestration().backfill(killed["backfill_id"])
    assert record["status"] == "success"
    assert {i["status"] for i in record["intervals"]} == {"success"}
    for interval in record["intervals"]:
        start = interval["starts"][:19]
        if start in first_runs:
            assert interval["run_id"] == first_runs[start]
    assert not store.list_runs(status="running")


def test_parallel_intervals_overlap(tmp_path):
    pipeline = load_pipeline(notebook_in(tmp_path, pause=0.5))
    result = backfill(pipeline, OCTOBER, dt.datetime(2020, 10, 5), "day", parallel=4)
    assert result.ok
    runs = RunStore.for_directory(tmp_path).list_runs(trigger=result.backfill_id)
    starts = sorted(dt.datetime.fromisoformat(r["started_at"]) for r in runs)
    ends = sorted(dt.datetime.fromisoformat(r["finished_at"]) for r in runs)
    assert starts[-1] < ends[0]  # all four ran at once


def test_intervals_in_processes_of_their_own(tmp_path):
    pipeline = load_pipeline(notebook_in(tmp_path, fail_on="2020-10-02"))
    result = backfill(pipeline, OCTOBER, dt.datetime(2020, 10, 4), "day", parallel=2,
                      mode="processes")
    assert days(result) == [("10-01", "success"), ("10-02", "failed"), ("10-03", "success")]
    assert "no trips for 2020-10-02" in result.intervals[1].error
    runs = RunStore.for_directory(tmp_path).list_runs(trigger=result.backfill_id)
    assert {r["pid"] for r in runs} != {os.getpid()}


def test_a_failed_backfill_sends_one_alert(tmp_path, http_receiver):
    port = http_receiver.server_address[1]
    settings = (f"notification_config:\n  alert_on: [trigger_failure]\n"
                f"  slack_config:\n    webhook_url: http://127.0.0.1:{port}/hook\n")
    notebook = scheduled_notebook(tmp_path / "taxi.ipynb", settings, fail_on="2020-10-01 2020-10-02 2020-10-03")
    result = backfill(load_pipeline(notebook), OCTOBER, dt.datetime(2020, 10, 4), "day")
    assert result.count("failed") == 3
    [(_path, payload)] = http_receiver.received
    assert "3 of 3 intervals did not succeed" in payload["text"]
    assert f"jupyter-blocks backfill resume {result.backfill_id}" in payload["text"]


def test_cli_list_show_and_exit_codes(tmp_path):
    notebook = notebook_in(tmp_path, fail_on="2020-10-02")
    runner = CliRunner()
    failed = runner.invoke(cli, ["backfill", str(notebook), "--start", "2020-10-01",
                                 "--end", "2020-10-04", "--interval", "day"])
    assert failed.exit_code == 1
    assert "3 intervals, 2 succeeded, 1 failed" in failed.output
    assert "resume with: jupyter-blocks backfill resume" in failed.output
    listed = runner.invoke(cli, ["backfill", "list", str(notebook), "--json"])
    [row] = [json.loads(line) for line in listed.output.splitlines()]
    assert (row["intervals"], row["succeeded"], row["failed"]) == (3, 2, 1)
    shown = runner.invoke(cli, ["backfill", "show", row["backfill_id"], str(notebook)])
    assert shown.exit_code == 0 and "no trips for 2020-10-02" in shown.output
    unknown = runner.invoke(cli, ["backfill", "show", row["backfill_id"][:-1] + "x",
                                  str(notebook)])
    assert unknown.exit_code == 2 and "did you mean" in unknown.output
    bad = runner.invoke(cli, ["backfill", str(notebook), "--start", "2020-10-01",
                              "--end", "2020-10-04", "--interval", "dy"])
    assert bad.exit_code == 2 and "did you mean 'day'" in bad.output.replace("`", "'")
    unread = runner.invoke(cli, ["backfill", str(notebook), "--start", "2020-10-01",
                                 "--end", "2020-10-04", "--interval", "day", "--var",
                                 "pauze=1"])
    assert unread.exit_code == 2 and "did you mean `pause`" in unread.output
    by_trigger = runner.invoke(cli, ["runs", "list", str(notebook), "--trigger",
                                     row["backfill_id"]])
    assert by_trigger.output.count(f"backfill:{row['backfill_id']}") == 3


def test_the_code_fingerprint_follows_the_blocks(tmp_path):
    notebook = notebook_in(tmp_path)
    code = pipeline_code(load_pipeline(notebook))
    scheduled_notebook(notebook, "{}", LOAD, TOTAL.replace("--upstream load", "-u load"))
    assert pipeline_code(load_pipeline(notebook)) == code
    scheduled_notebook(notebook, "{}", LOAD, TOTAL.replace("len(load)", "len(load) * 2"))
    assert pipeline_code(load_pipeline(notebook)) != code
