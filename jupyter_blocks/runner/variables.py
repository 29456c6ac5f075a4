"""Run variables: the ``kwargs`` every run passes to its blocks, built one way for all runners.

What belongs here: ``execution_date`` parsing and the derived variables (``ds``, the interval
bounds, ``pipeline``), so the kernel session and a headless run name and type them identically
and therefore compute identical cache keys.
"""

from __future__ import annotations

import datetime as dt
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


def run_variables(pipeline: str, execution_date: dt.datetime, values: Mapping[str, Any]
                  ) -> dict[str, Any]:
    """The variables of a run, named and typed exactly as the kernel session passes them."""
    variables: dict[str, Any] = {
        "execution_date": execution_date,
        "interval_start_datetime": execution_date,
        "interval_end_datetime": execution_date + dt.timedelta(days=1),
        "ds": execution_date.strftime("%Y-%m-%d"),
        "pipeline": pipeline,
    }
    variables.update((k, v) for k, v in values.items() if k != "execution_date")
    return variables
