"""The scheduler against a real run store, with a clock set where each test needs it.

Each tick's run starts in a process of its own, as in production; the clock is the scheduler's
(:class:`~jupyter_blocks.schedule.scheduler.Clock`), so a test runs "at 05:00 on 15 January"
without waiting for it.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest

from jupyter_blocks.core.errors import ConfigError
from jupyter_blocks.history.store import RunStore
from jupyter_blocks.schedule.scheduler import Clock, Scheduler
from tests.helpers.scheduled import clock_at, daily, scheduled_notebook

pytestmark = pytest.mark.timeout(120)


def scheduler_at(notebook, moment, store=None, **options):
    return Scheduler([str(notebook)], clock=clock_at(moment), store=store, **options)


def runs_of(notebook, store=None):
    found = RunStore.for_directory(notebook.parent, store).list_runs(limit=1000)
    return sorted(found, key=lambda run: str(run["variables"].get("execution_date")))


def once_at(notebook, moment, store=None, **options):
    scheduler = scheduler_at(notebook, moment, store, **options)
    ok = scheduler.once()
    return scheduler, ok


def test_a_new_trigger_waits_for_its_next_tick(tmp_path):
    notebook = scheduled_notebook(tmp_path / "taxi.ipynb", f"triggers:\n{daily()}")
    # First seen at 05:00:30, just after a tick: that tick is not run (mage-ai#5954).
    once_at(notebook, "2024-01-15T05:00:30")
    assert runs_of(notebook) == []
    # The next tick is.
    once_at(notebook, "2024-01-16T05:00:10")
    [run] = runs_of(notebook)
    assert run["trigger"] == "schedule:daily" and run["status"] == "success"
    assert run["variables"]["execution_date"] == "2024-01-16 05:00:00"


def test_daily_at_five_runs_at_five_for_the_interval_to_five_the_next_day(tmp_path):
    notebook = scheduled_notebook(tmp_path / "taxi.ipynb", f"triggers:\n{daily()}")
    once_at(notebook, "2024-01-15T05:30:00")
    # Not at midnight (mage-ai#4867).
    once_at(notebook, "2024-01-16T00:00:30")
    assert runs_of(notebook) == []
    once_at(notebook, "2024-01-16T05:00:01")
    [run] = runs_of(notebook)
    variables = run["variables"]
    assert variables["execution_date"] == "2024-01-16 05:00:00"
    assert variables["ds"] == "2024-01-16" and variables["hr"] == "05"
    assert variables["interval_start_datetime"] == "2024-01-16 05:00:00"
    assert variables["interval_end_datetime"] == "2024-01-17 05:00:00"
    assert variables["interval_seconds"] == 86400
    # What the block saw: the interval the tick covers.
    detail = RunStore.for_directory(tmp_path).get_run(run["run_id"])
    assert [b["status"] for b in detail["blocks"]] == ["ran", "ran"]


def test_after_a_restart_only_the_latest_missed_tick_runs(tmp_path):
    notebook = scheduled_notebook(tmp_path / "taxi.ipynb", f"triggers:\n{daily()}")
    once_at(notebook, "2024-01-10T06:00:00")
    # Down for five days (mage-ai#4897: every missed run at once after a restart).
    once_at(notebook, "2024-01-15T06:00:00")
    assert [r["variables"]["ds"] for r in runs_of(notebook)] == ["2024-01-15"]


def test_catchup_runs_every_missed_tick_oldest_first(tmp_path):
    notebook = scheduled_notebook(tmp_path / "taxi.ipynb",
                                  f"triggers:\n{daily(extra='catchup: true')}")
    once_at(notebook, "2024-01-10T06:00:00")
    once_at(notebook, "2024-01-15T06:00:00", lead=0)
    assert [r["variables"]["ds"] for r in runs_of(notebook)] == [
        "2024-01-11", "2024-01-12", "2024-01-13", "2024-01-14", "2024-01-15"]


def test_create_initial_pipeline_run_runs_the_latest_tick_at_once(tmp_path):
    extra = "settings:\n  create_initial_pipeline_run: true"
    notebook = scheduled_notebook(tmp_path / "taxi.ipynb", f"triggers:\n{daily(extra=extra)}")
    once_at(notebook, "2024-01-15T09:00:00")
    assert [r["variables"]["ds"] for r in runs_of(notebook)] == ["2024-01-15"]


def test_an_edited_trigger_starts_from_its_next_tick(tmp_path):
    notebook = scheduled_notebook(tmp_path / "taxi.ipynb", f"triggers:\n{daily()}")
    once_at(notebook, "2024-01-10T06:00:00")
    # Edited to 07:00 at 06:30; the 07:00 of that day is its next tick, nothing before it.
    scheduled_notebook(notebook, f"triggers:\n{daily(start='2024-01-01 07:00:00')}")
    once_at(notebook, "2024-01-15T06:30:00")
    assert runs_of(notebook) == []
    once_at(notebook, "2024-01-15T07:00:05")
    assert [r["variables"]["execution_date"] for r in runs_of(notebook)] == [
        "2024-01-15 07:00:00"]


def test_one_tick_is_one_run(tmp_path):
    notebook = scheduled_notebook(tmp_path / "taxi.ipynb", f"triggers:\n{daily()}")
    once_at(notebook, "2024-01-15T04:00:00")
    for _ in range(3):  # mage-ai#4311: one tick started twice
        once_at(notebook, "2024-01-15T05:00:02")
    assert len(runs_of(notebook)) == 1


def test_inactive_and_api_triggers_never_run_on_time(tmp_path):
    settings = ("triggers:\n" + daily().replace("status: active", "status: inactive")
                + "\n- name: hook\n  schedule_type: api\n  status: active")
    notebook = scheduled_notebook(tmp_path / "taxi.ipynb", settings)
    once_at(notebook, "2024-01-15T04:00:00")
    once_at(notebook, "2024-01-16T06:00:00")
    assert runs_of(notebook) == []


def test_trigger_variables_reach_the_run(tmp_path):
    extra = "variables:\n  pause: 0.01\n  region: eu"
    notebook = scheduled_notebook(tmp_path / "taxi.ipynb", f"triggers:\n{daily(extra=extra)}")
    once_at(notebook, "2024-01-15T04:00:00")
    once_at(notebook, "2024-01-15T05:00:01")
    [run] = runs_of(notebook)
    assert run["variables"]["pause"] == 0.01 and run["variables"]["region"] == "eu"


def test_a_failed_run_makes_once_fail(tmp_path):
    extra = "variables:\n  fail_on: 2024-01-15"
    notebook = scheduled_notebook(tmp_path / "taxi.ipynb", f"triggers:\n{daily(extra=extra)}")
    once_at(notebook, "2024-01-15T04:00:00")
    _, ok = once_at(notebook, "2024-01-15T05:00:01")
    assert not ok
    [run] = runs_of(notebook)
    assert run["status"] == "failed"
    [claim] = RunStore.for_directory(tmp_path).orchestration().scheduled("taxi")
    assert claim["claim"] == "failed" and claim["run_id"] == run["run_id"]


def test_skip_if_previous_running_skips_the_tick(tmp_path):
    cron = ("- name: minutely\n  schedule_type: time\n  schedule_interval: '* * * * *'\n"
            "  start_time: 2024-01-01 00:00:00\n  status: active\n"
            "  variables:\n    pause: 4\n  settings:\n    skip_if_previous_running: true")
    notebook = scheduled_notebook(tmp_path / "taxi.ipynb", f"triggers:\n{cron}")
    # Half a clock minute is a second here: loading the notebook and registering the trigger
    # may take that long on a busy machine without the trigger's first tick moving on.
    scheduler = Scheduler([str(notebook)], clock=clock_at("2024-01-15T04:58:30", speed=30),
                          lead=0.0)
    scheduler.step()  # registers the trigger: its first tick is 04:59
    time.sleep(1.5)  # 04:59:15 on the clock: the 04:59 tick is due
    first = scheduler.step()
    assert len(first) == 1
    time.sleep(2.2)  # a minute later, the first run still sleeps: the next tick is skipped
    second = scheduler.step()
    assert len(second) == 1
    scheduler.wait()
    assert second[0].process.returncode == 3
    claims = {c["tick"][11:16]: c["claim"]
              for c in RunStore.for_directory(tmp_path).orchestration().scheduled("taxi")}
    assert sorted(claims.values()) == ["skipped", "success"]
    assert len(runs_of(notebook)) == 1


def test_a_run_past_its_timeout_is_stopped_failed_and_alerted(tmp_path, http_receiver):
    port = http_receiver.server_address[1]
    extra = "variables: {pause: 60}\nsettings:\n  timeout: 1"
    settings = (f"triggers:\n{daily(extra=extra)}\n"
                f"notification_config:\n  alert_on: [trigger_failure]\n"
                f"  slack_config:\n    webhook_url: http://127.0.0.1:{port}/slack\n")
    notebook = scheduled_notebook(tmp_path / "taxi.ipynb", settings)
    once_at(notebook, "2024-01-15T04:00:00")
    _, ok = once_at(notebook, "2024-01-15T05:00:01")
    assert not ok
    [run] = runs_of(notebook)
    assert run["status"] == "failed"
    detail = RunStore.for_directory(tmp_path).get_run(run["run_id"])
    assert detail["blocks"][0]["status"] == "interrupted"
    [claim] = RunStore.for_directory(tmp_path).orchestration().scheduled("taxi")
    assert claim["claim"] == "timed out"
    [(path, payload)] = http_receiver.received
    assert path == "/slack" and "stopped after 1 s" in payload["text"]
    assert run["run_id"] in payload["text"]


def test_an_sla_miss_is_recorded_and_alerted_once(tmp_path, http_receiver):
    port = http_receiver.server_address[1]
    extra = "sla: 1\nvariables: {pause: 3}"
    settings = (f"triggers:\n{daily(extra=extra)}\n"
                f"notification_config:\n  alert_on: [trigger_passed_sla]\n"
                f"  urls: ['json://127.0.0.1:{port}/sla']\n")
    notebook = scheduled_notebook(tmp_path / "taxi.ipynb", settings)
    once_at(notebook, "2024-01-15T04:00:00")
    _, ok = once_at(notebook, "2024-01-15T05:00:00")
    assert ok
    [run] = runs_of(notebook)
    deadline = time.monotonic() + 10
    while not http_receiver.received and time.monotonic() < deadline:
        time.sleep(0.05)
    [(path, payload)] = http_receiver.received
    assert path == "/sla" and "SLA" in payload["title"] and run["run_id"] in payload["message"]
    alerts = RunStore.for_directory(tmp_path).orchestration().alerts(run["run_id"])
    assert [(a["kind"], bool(a["ok"])) for a in alerts] == [("passed_sla", True)]


def test_an_sla_miss_without_alerts_is_still_recorded(tmp_path):
    extra = "sla: 1\nvariables: {pause: 2}"
    notebook = scheduled_notebook(tmp_path / "taxi.ipynb", f"triggers:\n{daily(extra=extra)}")
    once_at(notebook, "2024-01-15T04:00:00")
    once_at(notebook, "2024-01-15T05:00:00")
    [run] = runs_of(notebook)
    time.sleep(0.3)  # the alert thread records it
    alerts = RunStore.for_directory(tmp_path).orchestration().alerts(run["run_id"])
    assert [a["kind"] for a in alerts] == ["passed_sla"]


def test_runs_use_the_executor_options_of_run(tmp_path):
    notebook = scheduled_notebook(tmp_path / "taxi.ipynb", f"triggers:\n{daily()}")
    once_at(notebook, "2024-01-15T04:00:00", executor="processes", workers=2)
    scheduler = scheduler_at(notebook, "2024-01-15T05:00:01", executor="processes", workers=2)
    [started] = scheduler.step()
    assert (started.launch.executor, started.launch.workers) == ("processes", 2)
    scheduler.wait()
    assert runs_of(notebook)[0]["status"] == "success"


def test_a_stopped_scheduler_gives_back_the_tick_it_had_not_started(tmp_path):
    notebook = scheduled_notebook(tmp_path / "taxi.ipynb", f"triggers:\n{daily()}")
    once_at(notebook, "2024-01-15T04:00:00")
    scheduler = Scheduler([str(notebook)], clock=clock_at("2024-01-15T04:59:59"), lead=5.0)
    [waiting] = scheduler.step()
    assert waiting.launch.at is not None
    scheduler.stop(grace=5)
    assert runs_of(notebook) == []
    # The next scheduler runs it as the latest missed tick.
    once_at(notebook, "2024-01-15T05:30:00")
    assert [r["variables"]["ds"] for r in runs_of(notebook)] == ["2024-01-15"]


def test_project_pipelines_are_scheduled_from_their_triggers_yaml(tmp_path):
    from jupyter_blocks.project.writer import export_notebook

    (tmp_path / "nb").mkdir()
    notebook = scheduled_notebook(tmp_path / "nb" / "taxi.ipynb", f"triggers:\n{daily()}")
    project = tmp_path / "project"
    export_notebook(notebook, project)
    assert "schedule_interval: '@daily'" in (project / "pipelines" / "taxi" /
                                             "triggers.yaml").read_text()
    once_at(project, "2024-01-15T04:00:00")
    once_at(project, "2024-01-15T05:00:01")
    [run] = RunStore.for_directory(project).list_runs()
    assert run["trigger"] == "schedule:daily" and run["status"] == "success"


def test_bad_targets_and_settings_are_one_line_errors(tmp_path):
    with pytest.raises(ConfigError, match="no such notebook"):
        Scheduler([str(tmp_path / "missing.ipynb")])
    notebook = scheduled_notebook(tmp_path / "bad.ipynb", "triggers:\n- name: x\n"
                                  "  schedule_interval: '0 5 * *'\n  start_time: 2024-01-01\n")
    with pytest.raises(ConfigError, match=r"triggers\[0\]\.schedule_interval: '0 5 \* \*' is "
                                          "not a cron expression"):
        Scheduler([str(notebook)])


def test_a_broken_edit_keeps_the_last_good_schedule(tmp_path):
    notebook = scheduled_notebook(tmp_path / "taxi.ipynb", f"triggers:\n{daily()}")
    records = []
    scheduler = Scheduler([str(notebook)], clock=clock_at("2024-01-15T04:00:00"),
                          log=records.append)
    notebook.write_text(notebook.read_text().replace("@daily", "@daly"))
    scheduler.reload()
    [problem] = [r for r in records if r["event"] == "pipeline_problem"]
    assert "@daly" in problem["error"] and scheduler.watched[0].triggers[0].name == "daily"


def test_listing_shows_next_fire_time_and_last_status(tmp_path):
    notebook = scheduled_notebook(tmp_path / "taxi.ipynb", f"triggers:\n{daily()}\n"
                                  "- name: hook\n  schedule_type: api\n  status: active")
    once_at(notebook, "2024-01-15T04:00:00")
    once_at(notebook, "2024-01-15T05:00:01")
    rows = scheduler_at(notebook, "2024-01-15T06:00:00").listing()
    by_name = {row["trigger"]: row for row in rows}
    assert by_name["daily"]["next"] == "2024-01-16T05:00:00+00:00"
    assert by_name["daily"]["last_status"] == "success"
    assert by_name["hook"]["next"] is None and by_name["hook"]["last_status"] is None


def test_the_clock_of_the_environment(monkeypatch):
    monkeypatch.setenv("JUPYTER_BLOCKS_CLOCK", "2024-01-15T04:59:58Z x60")
    clock = Clock.from_environment()
    assert clock.speed == 60 and clock.now() >= dt.datetime(2024, 1, 15, 4, 59, 58,
                                                            tzinfo=dt.timezone.utc)
    tick = dt.datetime(2024, 1, 15, 5, 0, tzinfo=dt.timezone.utc)
    assert clock.epoch(tick) - clock.origin == pytest.approx(2 / 60)
    monkeypatch.setenv("JUPYTER_BLOCKS_CLOCK", "soon")
    with pytest.raises(ConfigError, match="JUPYTER_BLOCKS_CLOCK"):
        Clock.from_environment()
