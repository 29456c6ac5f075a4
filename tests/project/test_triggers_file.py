import datetime as dt
from pathlib import Path

import pytest
import yaml

from jupyter_blocks.core.errors import ConfigError
from jupyter_blocks.project.mage_layout import dump_mage_yaml, pipeline_document
from jupyter_blocks.project.settings import dump_pipeline_cell, parse_pipeline_cell
from jupyter_blocks.project.triggers import Trigger
from jupyter_blocks.project.triggers_file import (
    dump_triggers,
    load_triggers,
    metadata_part,
    notification_config_from_mage,
    notification_config_to_mage,
    read_triggers,
    settings_from_metadata,
    write_triggers,
)

GOLDEN = Path(__file__).parents[1] / "golden" / "mage_triggers"
TRIGGERS_TEXT = (GOLDEN / "triggers.yaml").read_text(encoding="utf-8")
METADATA = yaml.safe_load((GOLDEN / "metadata.yaml").read_text(encoding="utf-8"))


def test_the_fixture_is_what_mage_writes():
    # Mage writes the file with yaml.safe_dump({"triggers": [...]}) and its defaults.
    assert yaml.safe_dump(yaml.safe_load(TRIGGERS_TEXT)) == TRIGGERS_TEXT


def test_triggers_file_round_trip_is_byte_identical(tmp_path):
    triggers = read_triggers(GOLDEN / "triggers.yaml")
    assert dump_triggers(triggers) == TRIGGERS_TEXT
    write_triggers(tmp_path / "triggers.yaml", triggers)
    assert (tmp_path / "triggers.yaml").read_bytes() == (GOLDEN / "triggers.yaml").read_bytes()


def test_triggers_are_read_with_mages_values():
    daily, api, weekday = load_triggers(TRIGGERS_TEXT)
    assert daily.start_time == dt.datetime(2024, 5, 16, 5, tzinfo=dt.timezone.utc)
    assert daily.last_enabled_at.microsecond == 549256
    assert daily.trigger_settings.skip_if_previous_running and daily.trigger_settings.timeout == 3600
    assert daily.sla == 7200 and daily.variables == {
        "min_passengers": 1, "source": "https://example.invalid/green_tripdata.parquet"}
    assert daily.description.endswith("— 05:00 UTC")
    assert (api.schedule_type, api.schedule_interval, api.start_time) == ("api", None, None)
    assert weekday.start_time == dt.datetime(2024, 2, 2, 5)  # naive, as older Mage wrote it
    assert weekday.status == "inactive"


def test_mage_project_to_cell_to_mage_project_is_byte_identical():
    triggers = read_triggers(GOLDEN / "triggers.yaml")
    settings = settings_from_metadata(METADATA, triggers)
    cell = dump_pipeline_cell(settings)
    assert cell.startswith("%%pipeline\ntriggers:\n- name: daily_load\n")
    back = parse_pipeline_cell(cell)
    assert dump_triggers(back.triggers) == TRIGGERS_TEXT
    part = metadata_part(back)
    assert {key: METADATA[key] for key in part} == part
    assert part["notification_config"] == METADATA["notification_config"]
    # The cell holds what differs from a new pipeline; the export writes Mage's defaults back.
    assert "widgets" not in cell and "executor_count" not in cell
    document = pipeline_document(name="taxi_etl", variables={}, blocks=[], conditionals=[],
                                 callbacks=[], settings=part)
    assert dump_mage_yaml(document) == (GOLDEN / "metadata.yaml").read_text(encoding="utf-8")
    # And the cell written from the files is the cell written again.
    assert dump_pipeline_cell(back) == cell


def test_cell_to_files_to_cell_is_byte_identical():
    cell = dump_pipeline_cell(parse_pipeline_cell(
        "%%pipeline\n"
        "triggers:\n"
        "- name: daily\n"
        "  schedule_interval: '@daily'\n"
        "  start_time: 2024-01-15 05:00:00\n"
        "  status: active\n"
        "  catchup: true\n"
        "  timezone: Europe/Berlin\n"
        "- name: hook\n"
        "  schedule_type: api\n"
        "notification_config:\n"
        "  urls: ['json://127.0.0.1:9/hook']\n"))
    settings = parse_pipeline_cell(cell)
    files = dump_triggers(settings.triggers), metadata_part(settings)
    imported = settings_from_metadata(files[1], load_triggers(files[0]))
    assert dump_pipeline_cell(imported) == cell


def test_written_triggers_have_mages_required_keys_and_ours_only_when_set():
    text = dump_triggers([Trigger(name="hook", schedule_type="api"),
                          Trigger(name="d", schedule_interval="@daily",
                                  start_time=dt.date(2024, 1, 1), catchup=False)])
    assert text == (
        "triggers:\n"
        "- name: hook\n  schedule_interval: null\n  schedule_type: api\n  start_time: null\n"
        "- name: d\n  schedule_interval: '@daily'\n  schedule_type: time\n"
        "  start_time: 2024-01-01\n")
    ours = dump_triggers([Trigger(name="d", schedule_interval="@daily", start_time=dt.date(
        2024, 1, 1), catchup=True, timezone="Europe/Berlin")])
    assert ours.startswith("triggers:\n- catchup: true\n") and "  timezone: Europe/Berlin\n" in ours


def test_notification_config_dict_in_dict_out():
    value = METADATA["notification_config"]
    config = notification_config_from_mage(value)
    assert config.email_config.smtp_port == 587
    assert notification_config_to_mage(config) == value
    assert notification_config_from_mage({}) is None
    assert notification_config_to_mage(None) == {}


def test_bad_triggers_file_lists_every_problem():
    with pytest.raises(ConfigError) as raised:
        load_triggers("triggers:\n"
                      "- name: a\n  schedule_type: time\n  schedule_interval: 0 5 * *\n"
                      "- name: a\n  schedule_type: tim\n  stauts: active\n", "p/triggers.yaml")
    message = str(raised.value)
    assert message.startswith("p/triggers.yaml triggers[0].schedule_interval: '0 5 * *' is not "
                              "a cron expression (wrong number of fields")
    assert "triggers[1].schedule_type: input should be 'time', 'api' or 'event'" in message
    assert "triggers[1].stauts: unknown key (did you mean `status`?)" in message
    assert "triggers[0].start_time: required for a time trigger" in message
    assert "triggers[1].name: 'a' is also the name of triggers[0]" in message
    assert "\n" not in message


def test_missing_and_empty_files(tmp_path):
    assert read_triggers(tmp_path / "triggers.yaml") == []
    assert load_triggers("") == [] and load_triggers("triggers: null\n") == []
    with pytest.raises(ConfigError, match="must be a mapping with `triggers:`"):
        load_triggers("- name: a\n")
