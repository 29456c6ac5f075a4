"""Intervals: the stretch of time one run covers, backfill intervals, and their run variables.

What belongs here: the :class:`Interval` value, cutting ``--start``/``--end`` into intervals of
an hour, a day, a week, a month or a cron schedule, and the variables a run of an interval gets
(``execution_date``, ``ds``, ``hr``, ``interval_start_datetime``, ``interval_end_datetime``,
``interval_seconds``, and Mage's ``interval_start_datetime_previous``).

Bounds: a backfill runs the intervals whose start lies in ``[start, end)``: the end is
*excluded*, so ``--start 2020-10-01 --end 2021-01-01 --interval day`` is the 92 days of the last
quarter of 2020, and a backfill to a date followed by one from that date runs no day twice.
Mage includes the end (93 runs there); ``include_end=True`` does the same. Naive datetimes are
UTC wall-clock time and stay naive; aware ones keep their zone.
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime as dt
from typing import Any

from jupyter_blocks.core.errors import ConfigError, did_you_mean

#: Interval names a backfill takes besides a cron expression.
UNITS = ("hour", "day", "week", "month")
_STEPS = {"hour": dt.timedelta(hours=1), "day": dt.timedelta(days=1),
          "week": dt.timedelta(weeks=1)}


@dataclasses.dataclass(frozen=True)
class Interval:
    """The time one run covers: ``[start, end)``.

    Attributes:
        start: The run's ``execution_date`` and ``interval_start_datetime``.
        end: Where the next interval starts (None for a run of an ``@once`` trigger).
        previous_start: Where the interval before this one started, when there is one.
    """

    start: dt.datetime
    end: dt.datetime | None
    previous_start: dt.datetime | None = None

    @property
    def seconds(self) -> int | None:
        """The interval's real length in seconds (23 or 25 hours across a DST change)."""
        if self.end is None:
            return None
        return round(_timestamp(self.end) - _timestamp(self.start))


def intervals(start: dt.date | dt.datetime, end: dt.date | dt.datetime, interval: str, *,
              include_end: bool = False) -> list[Interval]:
    """Cut ``[start, end)`` into backfill intervals, oldest first.

    Args:
        start: The first interval's start (a date is midnight).
        end: Intervals start before it (at or before it with ``include_end``).
        interval: ``hour``, ``day``, ``week``, ``month`` (steps from ``start``: a month from
            January 31st is February's last day, then March 31st) or a cron expression (the
            ticks at or after ``start``).
        include_end: Also run the interval starting exactly at ``end``, as Mage does.

    Raises:
        ConfigError: ``end`` is before ``start``, one is aware and the other not, or the
            interval is neither a unit nor a cron expression.
    """
    first, last = _as_datetime(start), _as_datetime(end)
    if (first.tzinfo is None) != (last.tzinfo is None):
        raise ConfigError(f"backfill --start {first.isoformat()} and --end {last.isoformat()} "
                          "must both have a time zone offset or both have none")
    if last < first:
        raise ConfigError(f"backfill --end {last.isoformat()} is before --start "
                          f"{first.isoformat()}")
    starts = list(_starts(first, last, interval, include_end))
    if not starts:
        return []
    following = _starts_after(starts[-1], interval)
    previous = _start_before(starts[0], interval)
    result = []
    for index, begin in enumerate(starts):
        finish = starts[index + 1] if index + 1 < len(starts) else following
        before = starts[index - 1] if index > 0 else previous
        result.append(Interval(start=begin, end=finish, previous_start=before))
    return result


def run_variables_for(interval: Interval) -> dict[str, Any]:
    """The variables of the run of ``interval``, named as Mage names them.

    ``execution_date`` and the ``interval_*_datetime`` values are datetimes, ``ds`` is
    ``YYYY-MM-DD``, ``hr`` is ``HH``, ``interval_seconds`` an int (None without an end).
    """
    start = interval.start
    return {
        "execution_date": start,
        "ds": start.strftime("%Y-%m-%d"),
        "hr": start.strftime("%H"),
        "interval_start_datetime": start,
        "interval_end_datetime": interval.end,
        "interval_seconds": interval.seconds,
        "interval_start_datetime_previous": interval.previous_start,
    }


def add_months(moment: dt.datetime, months: int) -> dt.datetime:
    """``moment`` moved by ``months`` calendar months, on the month's last day if shorter."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def _starts(first: dt.datetime, last: dt.datetime, interval: str, include_end: bool
            ) -> list[dt.datetime]:
    def inside(moment: dt.datetime) -> bool:
        return moment < last or (include_end and moment == last)

    starts: list[dt.datetime] = []
    if interval == "month":
        count = 0
        while inside(moment := add_months(first, count)):
            starts.append(moment)
            count += 1
    elif interval in _STEPS:
        step = _STEPS[interval]
        moment = first
        while inside(moment):
            starts.append(moment)
            moment += step
    else:
        iterator = _cron(interval, first - dt.timedelta(microseconds=1))
        while (tick := next(iterator, None)) is not None and inside(tick):
            starts.append(tick)
    return starts


def _starts_after(moment: dt.datetime, interval: str) -> dt.datetime | None:
    if interval == "month":
        return add_months(moment, 1)
    if interval in _STEPS:
        return moment + _STEPS[interval]
    return next(_cron(interval, moment), None)


def _start_before(moment: dt.datetime, interval: str) -> dt.datetime | None:
    if interval == "month":
        return add_months(moment, -1)
    if interval in _STEPS:
        return moment - _STEPS[interval]
    return next(_cron(interval, moment, reverse=True), None)


def _cron(expression: str, after: dt.datetime, reverse: bool = False) -> Any:
    from cronsim import CronSim, CronSimError

    from jupyter_blocks.project.triggers import CRON_MACROS

    try:
        return CronSim(CRON_MACROS.get(expression, expression), after, reverse=reverse)
    except CronSimError as exc:
        raise ConfigError(
            f"backfill --interval {expression!r} is neither one of {', '.join(UNITS)} nor a "
            f"cron expression ({str(exc).lower()}){did_you_mean(expression, UNITS)}") from None


def _as_datetime(value: dt.date | dt.datetime) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime(value.year, value.month, value.day)


def _timestamp(moment: dt.datetime) -> float:
    # Naive values are UTC wall-clock time here, not the machine's local time.
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)).timestamp()
