import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from jupyter_blocks.core.errors import ConfigError
from jupyter_blocks.project.settings import PipelineSettings, parse_pipeline_cell
from jupyter_blocks.schedule.summary import summary

CELL = """%%pipeline
triggers:
- name: daily
  schedule_type: time
  schedule_interval: '@daily'
  start_time: 2024-01-15 05:00:00
  status: active
  sla: 3600
  settings:
    skip_if_previous_running: true
    timeout: 600
- name: berlin_weekdays
  schedule_interval: 30 6 * * 1-5
  start_time: 2024-01-01
  timezone: Europe/Berlin
  catchup: true
- name: hook
  schedule_type: api
notification_config:
  alert_on: [trigger_failure, trigger_success]
  slack_config:
    webhook_url: "{{ env_var('SLACK_WEBHOOK') }}"
  urls: ['json://127.0.0.1:9/hook']
retry_config:
  retries: 2
  delay: 10
concurrency_config:
  pipeline_run_limit: 1
executor_type: local_python
"""


def test_cell_parses_into_settings():
    settings = parse_pipeline_cell(CELL)
    daily, berlin, hook = settings.triggers
    assert daily.schedule_interval == "@daily" and daily.trigger_settings.timeout == 600
    assert berlin.catchup and berlin.timezone == "Europe/Berlin" and berlin.schedule_type == "time"
    assert hook.schedule_type == "api" and hook.status == "inactive"
    assert settings.notification_config.alert_on == ["trigger_failure", "trigger_success"]
    assert settings.retry_config.retries == 2 and settings.retry_config.delay == 10
    assert settings.concurrency_config.pipeline_run_limit == 1
    assert settings.executor_type == "local_python"


def test_the_magic_line_is_optional_and_an_empty_cell_is_no_settings():
    assert parse_pipeline_cell(CELL.split("\n", 1)[1]) == parse_pipeline_cell(CELL)
    assert parse_pipeline_cell("%%pipeline\n") == PipelineSettings()


def test_the_issue_example_error():
    with pytest.raises(ConfigError) as raised:
        parse_pipeline_cell("%%pipeline\ntriggers:\n- name: a\n  schedule_interval: '0 5 * *'\n"
                            "  start_time: 2024-01-01\n")
    assert str(raised.value).startswith(
        "%%pipeline triggers[0].schedule_interval: '0 5 * *' is not a cron expression")


def test_every_problem_on_one_line():
    with pytest.raises(ConfigError) as raised:
        parse_pipeline_cell(
            "triggers:\n"
            "- name: a\n  schedule_interval: '@daly'\n  start_time: 05:00\n  timezone: Europe/Berln\n"
            "  settings: {skip_if_previous_runing: true}\n"
            "notification_config:\n  alert_on: [trigger_failed]\n  slack_confg: {}\n"
            "retry_config: {retries: -1}\n"
            "blocks: []\n"
            "triggerz: []\n", where="etl.ipynb %%pipeline")
    message = str(raised.value)
    assert "\n" not in message
    problems = message.removeprefix("etl.ipynb %%pipeline ").split("; ")
    assert problems == [
        "blocks: blocks come from %%block cells",
        "triggers[0].schedule_interval: '@daly' is not a cron expression (wrong number of fields) "
        "nor one of @once, @hourly, @daily, @weekly, @monthly, @always_on",
        "triggers[0].start_time: 05:00 is a time of day: write the day it starts too, like "
        "2024-01-15 05:00:00",
        "triggers[0].settings.skip_if_previous_runing: unknown key (did you mean "
        "`skip_if_previous_running`?)",
        "triggers[0].timezone: 'Europe/Berln' is not a time zone name (did you mean "
        "`Europe/Berlin`?)",
        "notification_config.alert_on[0]: input should be 'trigger_failure', 'trigger_success' "
        "or 'trigger_passed_sla'",
        "notification_config.slack_confg: unknown key (did you mean `slack_config`?)",
        "retry_config.retries: input should be greater than or equal to 0",
        "triggerz: unknown key (did you mean `triggers`?)",
    ]


def test_an_unquoted_time_that_yaml_reads_as_a_number():
    with pytest.raises(ConfigError, match=r"triggers\[0\].start_time: expected a date or a date "
                                          r"and time like 2024-01-15 05:00:00, got 300$"):
        parse_pipeline_cell("triggers:\n- {name: a, schedule_interval: '@daily', start_time: 5:00}")


def test_bad_yaml_names_the_cell_line():
    with pytest.raises(ConfigError, match=r"^%%pipeline is not valid YAML at line 3: "):
        parse_pipeline_cell("%%pipeline\ntriggers: []\n  name: a\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        parse_pipeline_cell("%%pipeline\n- a\n")


def test_summary_shows_each_trigger_with_its_next_three_times():
    settings = parse_pipeline_cell(CELL)
    text = summary(settings, now=dt.datetime(2024, 3, 29, 12, tzinfo=dt.timezone.utc),
                   local_tz=ZoneInfo("America/New_York"))
    assert text.splitlines() == [
        "Pipeline settings: 3 triggers",
        "- daily: time, @daily at 05:00 UTC, active, from 2024-01-15 05:00, "
        "skip if previous running, timeout 600 s, SLA 3600 s",
        "    next: 2024-03-30 05:00 UTC = 2024-03-30 01:00 EDT",
        "          2024-03-31 05:00 UTC = 2024-03-31 01:00 EDT",
        "          2024-04-01 05:00 UTC = 2024-04-01 01:00 EDT",
        "- berlin_weekdays: time, cron 30 6 * * 1-5, inactive, from 2024-01-01 00:00, catchup",
        "    next if activated: 2024-04-01 04:30 UTC = 2024-04-01 00:30 EDT = "
        "2024-04-01 06:30 Europe/Berlin",
        "                       2024-04-02 04:30 UTC = 2024-04-02 00:30 EDT = "
        "2024-04-02 06:30 Europe/Berlin",
        "                       2024-04-03 04:30 UTC = 2024-04-03 00:30 EDT = "
        "2024-04-03 06:30 Europe/Berlin",
        "- hook: api, runs when called over HTTP, inactive",
        "Alerts on trigger_failure, trigger_success to slack, json:// URL",
        "Block retries by default: 2, 10 s apart, doubling (at most 60 s)",
        "Concurrency: pipeline run limit 1",
        "Kept for Mage: executor_type",
    ]


def test_summary_of_a_past_once_and_no_alerts():
    settings = parse_pipeline_cell("triggers:\n- name: once\n  schedule_interval: '@once'\n"
                                   "  start_time: 2024-01-01 05:00:00\n  status: active\n")
    text = summary(settings, dt.datetime(2024, 6, 1), dt.timezone.utc)
    assert "- once: time, @once at 2024-01-01 05:00 UTC, active" in text
    assert "    no more runs" in text and "Alerts: none configured" in text
