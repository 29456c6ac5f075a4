"""The ``%%pipeline`` cell: a pipeline's settings as YAML in Mage's spelling, and its summary.

What belongs here: the :class:`PipelineSettings` model (``triggers``, ``notification_config``,
the pipeline defaults ``retry_config`` and ``concurrency_config``, and Mage's other pipeline
keys, kept as written so imports and exports give the same bytes back, as are Mage's keys of
blocks that ``%%block`` options do not hold, under ``mage_block_keys``), parsing a cell into it
with every problem on one line, writing it back as a cell, and the summary the cell shows.
Splitting the settings into ``triggers.yaml`` and ``metadata.yaml`` is ``triggers_file``'s job.

A cell looks like::

    %%pipeline
    triggers:
    - name: daily
      schedule_type: time
      schedule_interval: '@daily'
      start_time: 2024-01-15 05:00:00
      status: active
    notification_config:
      alert_on: [trigger_failure, trigger_passed_sla]
      slack_config:
        webhook_url: "{{ env_var('SLACK_WEBHOOK') }}"
    retry_config:
      retries: 2
    mage_block_keys:
      load_trips:
        color: '#f5a623'
        status: executed
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from jupyter_blocks.core.errors import ConfigError
from jupyter_blocks.project.notifications import NotificationConfig
from jupyter_blocks.project.triggers import (
    PRESETS,
    Trigger,
    start_of,
    trigger_problems,
)
from jupyter_blocks.project.validation import describe_errors, load_yaml, raise_problems

MAGIC = "%%pipeline"
#: Keys of ``metadata.yaml`` that other cells own, with where they come from.
RESERVED = {
    "name": "the pipeline's name is the notebook's (or the export's --pipeline)",
    "uuid": "the pipeline's uuid is its name",
    "type": "the pipeline's type comes from its blocks",
    "blocks": "blocks come from %%block cells",
    "variables": "variable defaults come from the cell tagged `parameters`",
    "callbacks": "callbacks come from %%block cells with --type callback --on BLOCK",
    "conditionals": "conditionals come from %%block cells with --type condition",
}
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class PipelineRetryConfig(BaseModel):
    """The pipeline's default ``retry_config`` for its blocks (Mage's ``RetryConfig``)."""

    model_config = ConfigDict(extra="forbid")

    retries: int = Field(default=0, ge=0)
    delay: int | float = Field(default=5, ge=0)
    max_delay: int | float = Field(default=60, ge=0)
    exponential_backoff: bool = True


class ConcurrencyConfig(BaseModel):
    """``concurrency_config`` (Mage's ``ConcurrencyConfig``)."""

    model_config = ConfigDict(extra="forbid")

    block_run_limit: int | None = Field(default=None, ge=1)
    pipeline_run_limit: int | None = Field(default=None, ge=1)
    pipeline_run_limit_all_triggers: int | None = Field(default=None, ge=1)
    on_pipeline_run_limit_reached: Literal["wait", "skip"] = "wait"


class PipelineSettings(BaseModel):
    """What a ``%%pipeline`` cell holds. Unset keys stay unset, so a dump writes what was read."""

    model_config = ConfigDict(extra="forbid")

    triggers: list[Trigger] = Field(default_factory=list)
    notification_config: NotificationConfig | None = None
    retry_config: PipelineRetryConfig | None = None
    concurrency_config: ConcurrencyConfig | None = None
    # Mage's other pipeline keys: kept as written, not used by jupyter-blocks.
    #: Mage's keys of a block's entry in ``metadata.yaml`` that its ``%%block`` options do not
    #: hold (``color``, ``status``, ``executor_type``, a ``configuration`` key of Mage's...),
    #: by block name, as a Mage-written file had them (``project.mage_layout``).
    mage_block_keys: dict[str, dict[str, Any]] | None = None
    cache_block_output_in_memory: Any = None
    created_at: Any = None
    data_integration: Any = None
    description: Any = None
    execution_framework: Any = None
    executor_config: Any = None
    executor_count: Any = None
    executor_type: Any = None
    extensions: Any = None
    remote_variables_dir: Any = None
    run_pipeline_in_one_process: Any = None
    settings: Any = None
    spark_config: Any = None
    tags: Any = None
    updated_at: Any = None
    variables_dir: Any = None
    widgets: Any = None


#: Keys a cell keeps for Mage without using them.
KEPT_KEYS = tuple(key for key in PipelineSettings.model_fields if key not in (
    "triggers", "notification_config", "retry_config", "concurrency_config", "mage_block_keys"))


def parse_pipeline_cell(text: str, where: str = MAGIC) -> PipelineSettings:
    """Parse a ``%%pipeline`` cell (with or without its magic line) into settings.

    Raises:
        ConfigError: Every problem at once, joined with ``; ``, each with its YAML path:
            ``%%pipeline triggers[0].schedule_interval: '0 5 * *' is not a cron expression``.
    """
    body, offset = text, 0
    first, _, rest = text.partition("\n")
    if first.strip().startswith(MAGIC):
        body, offset = rest, 1
    document = load_yaml(body, where, offset)
    if document is None:
        return PipelineSettings()
    return settings_from_document(document, where)


def settings_from_document(document: Any, where: str) -> PipelineSettings:
    """Validate a parsed mapping into settings; ``ConfigError`` lists every problem."""
    if not isinstance(document, Mapping):
        raise ConfigError(f"{where} must be a mapping with keys such as triggers: and "
                          f"notification_config:, got {type(document).__name__}")
    problems = [f"{key}: {reason}" for key, reason in RESERVED.items() if key in document]
    values = {key: value for key, value in document.items() if key not in RESERVED}
    settings = None
    try:
        settings = PipelineSettings.model_validate(values)
    except ValidationError as exc:
        problems += describe_errors(exc, PipelineSettings)
    if isinstance(values.get("triggers"), list):
        problems += trigger_problems(values["triggers"])
    raise_problems(where, problems)
    assert settings is not None
    return settings


def cell_document(settings: PipelineSettings) -> dict[str, Any]:
    """The settings as the mapping a cell shows: what was set, triggers without empty keys."""
    document = settings.model_dump(exclude_unset=True)
    if "triggers" in document:
        document["triggers"] = [trigger_cell_document(t) for t in settings.triggers]
    return document


def trigger_cell_document(trigger: Trigger) -> dict[str, Any]:
    """A trigger as a cell shows it: its set keys and its type, without a null start or interval.

    The type is always there because ``triggers.yaml`` always has it: a cell written from the
    files is then the cell the files were written from.
    """
    document = trigger.model_dump(exclude_unset=True)
    document.setdefault("schedule_type", trigger.schedule_type)
    document = {key: document[key] for key in Trigger.model_fields if key in document}
    for key in ("schedule_interval", "start_time"):
        if key in document and document[key] is None:
            del document[key]
    if not trigger.catchup:
        document.pop("catchup", None)
    if trigger.timezone is None:
        document.pop("timezone", None)
    return document


def dump_pipeline_cell(settings: PipelineSettings) -> str:
    """The source of a ``%%pipeline`` cell holding ``settings`` (magic line included)."""
    document = cell_document(settings)
    if not document:
        return MAGIC + "\n"
    text: str = yaml.safe_dump(document, sort_keys=False, allow_unicode=True,
                               default_flow_style=False, width=100)
    return f"{MAGIC}\n{text}"


def describe_interval(trigger: Trigger) -> str:
    """``@daily at 05:00``, ``cron 0 5 * * 1-5``, ``@once at 2024-01-15 05:00``..."""
    interval = trigger.schedule_interval
    start = start_of(trigger)
    zone = f" ({trigger.timezone})" if trigger.timezone else " UTC"
    if trigger.schedule_type != "time":
        return {"api": "runs when called over HTTP",
                "event": "event trigger (deprecated in Mage; not run here)"}[trigger.schedule_type]
    if interval is None:
        return "no schedule_interval"
    if interval == "@always_on":
        return "@always_on (streaming; not run here)"
    if interval not in PRESETS:
        return f"cron {interval}"
    if start is None:
        return interval
    clock = f"{start:%H:%M}{zone}"
    if interval == "@once":
        return f"@once at {start:%Y-%m-%d} {clock}"
    if interval == "@hourly":
        return f"@hourly at minute {start.minute}"
    if interval == "@daily":
        return f"@daily at {clock}"
    if interval == "@weekly":
        return f"@weekly on {_WEEKDAYS[start.weekday()]} at {clock}"
    if interval == "@monthly":
        last = " (or the month's last day)" if start.day > 28 else ""
        return f"@monthly on day {start.day}{last} at {clock}"
    return interval
