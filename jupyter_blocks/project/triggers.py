"""Triggers: one entry of Mage's ``triggers.yaml``, validated, plus ``catchup`` and ``timezone``.

What belongs here: the pydantic models of a trigger and of its ``settings`` with Mage's keys,
spelling and defaults (Mage 0.9's ``Trigger`` and ``SettingsConfig`` dataclasses); the checks
that need more than one key (a time trigger's ``start_time``, unique names); and reading a
trigger's time zone and start time. The times a trigger fires at live in ``ticks``; the file
format in ``triggers_file``.

Our two additions are trigger keys Mage does not have: ``catchup: true`` (after a pause, run
every missed tick instead of only the latest) and ``timezone`` (an IANA name; the wall clock
that ``start_time`` without an offset and cron expressions are read in; UTC when absent).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from jupyter_blocks.core.errors import did_you_mean

ScheduleType = Literal["time", "api", "event"]
Status = Literal["active", "inactive"]
#: Mage's named intervals, anchored by ``start_time`` here (Mage anchors them at midnight).
PRESETS = ("@once", "@hourly", "@daily", "@weekly", "@monthly", "@always_on")
#: Cron's own macros (accepted by croniter, so by Mage): plain cron, not anchored.
CRON_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@midnight": "0 0 * * *",
}
#: The keys Mage's ``Trigger`` cannot be built without; every written trigger has them.
MAGE_REQUIRED_KEYS = ("name", "schedule_interval", "schedule_type", "start_time")
#: Our keys; written only when they are not their defaults (Mage refuses unknown keys).
OUR_KEYS = ("catchup", "timezone")
_TIME_OF_DAY = re.compile(r"\d{1,2}:\d{2}(:\d{2})?")


class TriggerSettings(BaseModel):
    """``settings:`` of a trigger (Mage's ``SettingsConfig``)."""

    model_config = ConfigDict(extra="forbid")

    skip_if_previous_running: bool = False
    allow_blocks_to_fail: bool = False
    #: Run the latest tick at once when the trigger is new, instead of waiting for the next one.
    create_initial_pipeline_run: bool = False
    landing_time_enabled: bool = False
    pipeline_run_limit: int | None = Field(default=None, ge=1)
    #: Seconds a run may take before it is stopped.
    timeout: int | None = Field(default=None, gt=0)
    timeout_status: Literal["cancelled", "failed"] | None = None
    #: Mage writes this flag itself on a trigger whose cron expression it cannot read.
    invalid_schedule_interval: bool | None = None


class Trigger(BaseModel):
    """One trigger, keys as Mage spells them, defaults as Mage's ``Trigger`` has them."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    pipeline_uuid: str | None = None
    schedule_type: ScheduleType = "time"
    #: ``@once``, ``@hourly``, ``@daily``, ``@weekly``, ``@monthly``, ``@always_on`` or cron.
    schedule_interval: str | None = None
    #: When the schedule starts; its time of day (and weekday, day of month) anchors the
    #: named intervals. A date means midnight; no offset means the trigger's time zone.
    start_time: dt.datetime | dt.date | None = None
    status: Status = "inactive"
    last_enabled_at: dt.datetime | None = None
    variables: dict[str, Any] | None = Field(default_factory=dict)
    #: Seconds after the scheduled time by which a run should have finished.
    sla: int | None = Field(default=None, ge=0)
    settings: TriggerSettings | None = Field(default_factory=lambda: TriggerSettings())
    envs: list[str] | None = Field(default_factory=list)
    repo_path: str | None = None
    description: str | None = None
    token: str | None = Field(default=None, repr=False)
    catchup: bool = False
    timezone: str | None = None

    @field_validator("schedule_interval")
    @classmethod
    def _known_interval(cls, value: str | None) -> str | None:
        if value is not None and value not in PRESETS:
            problem = cron_problem(CRON_MACROS.get(value, value))
            if problem is not None:
                raise PydanticCustomError(
                    "cron", "{value} is not a cron expression ({problem}) nor one of {presets}",
                    {"value": repr(value), "problem": problem, "presets": ", ".join(PRESETS)})
        return value

    @field_validator("start_time", "last_enabled_at", mode="before")
    @classmethod
    def _not_a_number(cls, value: Any) -> Any:
        # YAML reads an unquoted 05:00 as the number 300, which pydantic would take for a Unix
        # time: refuse numbers instead of scheduling in 1970.
        if isinstance(value, int | float) and not isinstance(value, bool):
            raise PydanticCustomError(
                "datetime", "expected a date or a date and time like 2024-01-15 05:00:00, got "
                "{value}", {"value": value})
        if isinstance(value, str) and _TIME_OF_DAY.fullmatch(value.strip()):
            raise PydanticCustomError(
                "datetime", "{value} is a time of day: write the day it starts too, like "
                "2024-01-15 {value}:00", {"value": value.strip()[:5]})
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                import zoneinfo

                hint = did_you_mean(value, zoneinfo.available_timezones())
                raise PydanticCustomError("timezone", "{value} is not a time zone name{hint}",
                                          {"value": repr(value), "hint": hint}) from None
        return value

    @property
    def trigger_settings(self) -> TriggerSettings:
        """The settings, with Mage's defaults when ``settings`` is absent or null."""
        return self.settings if self.settings is not None else TriggerSettings()


@functools.lru_cache(maxsize=256)
def cron_problem(expression: str) -> str | None:
    """What is wrong with a five-field cron expression, or None when cronsim reads it."""
    from cronsim import CronSim, CronSimError

    try:
        CronSim(expression, dt.datetime(2000, 1, 1))
    except CronSimError as exc:
        return str(exc).lower() or "not readable"
    return None


def zone_of(trigger: Trigger) -> dt.tzinfo:
    """The trigger's time zone: its ``timezone``, else UTC."""
    return ZoneInfo(trigger.timezone) if trigger.timezone else dt.timezone.utc


def start_of(trigger: Trigger) -> dt.datetime | None:
    """``start_time`` as an aware datetime in the trigger's zone (None when it has none).

    A date is midnight of that day and a datetime without offset is wall-clock time, both in the
    trigger's zone; a wall-clock time that does not exist there (skipped by a DST change) moves
    forward by the size of the gap.
    """
    value = trigger.start_time
    if value is None:
        return None
    zone = zone_of(trigger)
    if not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    # A round trip through UTC settles times in a DST gap on a real instant.
    return value.astimezone(dt.timezone.utc).astimezone(zone)


def trigger_problems(raw_triggers: Sequence[Any],
                     prefix: tuple[int | str, ...] = ("triggers",)) -> list[str]:
    """Problems that span keys, found on the raw mappings so they show with the others.

    A time trigger needs ``schedule_interval`` and ``start_time`` (Mage's sync skips one
    without), and names must be unique (Mage keys triggers by name).
    """
    from jupyter_blocks.project.validation import yaml_path

    problems = []
    names = Counter(raw.get("name") for raw in raw_triggers if isinstance(raw, Mapping))
    first_index: dict[Any, int] = {}
    for index, raw in enumerate(raw_triggers):
        if not isinstance(raw, Mapping):
            continue
        path = yaml_path((*prefix, index))
        if raw.get("schedule_type", "time") == "time":
            for key in ("schedule_interval", "start_time"):
                if raw.get(key) is None:
                    problems.append(f"{path}.{key}: required for a time trigger")
        name = raw.get("name")
        if isinstance(name, str) and names[name] > 1:
            if name in first_index:
                problems.append(f"{path}.name: {name!r} is also the name of "
                                f"{yaml_path((*prefix, first_index[name]))}")
            else:
                first_index[name] = index
    return problems
