"""Run variables: the ``kwargs`` every run passes to its blocks, built one way for all runners.

What belongs here: ``execution_date`` parsing and the derived variables, so the kernel session,
a headless run and a scheduled run name and type them identically and therefore compute
identical cache keys: ``ds`` and ``hr`` of the execution date, the interval it covers
(``interval_start_datetime``, ``interval_end_datetime``, ``interval_seconds``: a day unless the
schedule says otherwise; for a run that sets no execution date, the calendar day it starts in, so
a block reading the interval keeps its cache key all day), ``pipeline`` and Mage's
``pipeline_uuid``, and ``env`` (Mage's: the ``ENV`` environment variable, ``dev`` when unset).
Each block also gets ``block``/``block_uuid``, ``logger`` and ``retry`` (see
``runner.plan.block_variables``).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from typing import Any

from jupyter_blocks.core.errors import ConfigError


def as_datetime(value: Any, what: str = "execution_date") -> dt.datetime:
    """A datetime from a datetime, a date or an ISO text; ``ConfigError`` otherwise."""
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            pass
    raise ConfigError(f"{what} must be a date or datetime like 2020-10-01 or "
                      f"2020-10-01T06:00, got `{value}`")


#: The variables every run derives; values of the same names are ignored (they are derived).
DERIVED = frozenset({"execution_date", "interval_start_datetime", "interval_end_datetime",
                     "interval_seconds", "ds", "hr", "pipeline", "pipeline_uuid"})


def day_of(moment: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The calendar day ``moment`` falls in: the interval of a run that sets no execution date."""
    start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + dt.timedelta(days=1)


def run_variables(pipeline: str, execution_date: dt.datetime, values: Mapping[str, Any], *,
                  interval_end: dt.datetime | None = None,
                  interval_start: dt.datetime | None = None) -> dict[str, Any]:
    """The variables of a run, named and typed exactly as every runner passes them.

    Args:
        pipeline: The pipeline's name.
        execution_date: When the run is for (a schedule's tick, an interval's start).
        values: The run's other variables (parameters, ``--var``, a trigger's variables).
        interval_end: The end of the interval the run covers (default: a day after its start).
        interval_start: The start of that interval (default: ``execution_date``).
    """
    start = interval_start if interval_start is not None else execution_date
    end = interval_end if interval_end is not None else start + dt.timedelta(days=1)
    variables: dict[str, Any] = {
        "execution_date": execution_date,
        "interval_start_datetime": start,
        "interval_end_datetime": end,
        "interval_seconds": int((end - start).total_seconds()),
        "ds": execution_date.strftime("%Y-%m-%d"),
        "hr": execution_date.strftime("%H"),
        "pipeline": pipeline,
        "pipeline_uuid": pipeline,
        "env": os.environ.get("ENV", "dev").lower() or "dev",
    }
    variables.update((k, v) for k, v in values.items() if k not in DERIVED)
    return variables
