"""Ticks: the times a trigger fires at, which of them are due now, and what a tick's run covers.

What belongs here: pure functions of a :class:`~jupyter_blocks.project.triggers.Trigger` and
times that the caller passes in (``now`` is always an argument: no clock is read here).
Cron arithmetic is cronsim's, in the trigger's time zone, so DST changes are handled as
Debian's cron does (a daily 02:30 runs once on the day clocks go back, and at 03:00 on the day
they skip 02:30). Naive datetimes passed in are read as UTC. Ticks come back in UTC, so they
compare, hash and store safely (Python calls the two 02:30s of one zone equal, and a time in
the repeated hour unequal to every other zone's); the :class:`Interval` of a tick is in the
trigger's zone, so a run's ``ds`` and ``hr`` are its wall-clock date and hour.

Rules, where Mage's scheduler goes wrong:

- ``@hourly/@daily/@weekly/@monthly`` fire at ``start_time``'s minute, time of day, weekday or
  day of month (the last day of shorter months), not at midnight; ticks before ``start_time``
  never fire. ``@once`` fires at ``start_time``.
- After a pause only the latest missed tick is due; ``catchup: true`` makes every missed tick
  due, oldest first.
- A new or edited trigger's first run is its next tick (pass ``active_since``), unless its
  ``settings.create_initial_pipeline_run`` asks for the latest past tick at once.
- A tick at or before the last run tick is never due again: one tick, one run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from jupyter_blocks.project.triggers import CRON_MACROS, Trigger, start_of, zone_of
from jupyter_blocks.schedule.intervals import Interval

_UTC = dt.timezone.utc
_MICROSECOND = dt.timedelta(microseconds=1)
#: Cron's months without a 29th, 30th, 31st day: there the anchored @monthly fires on the last.
_SHORT_MONTHS = {29: "2", 30: "2", 31: "2,4,6,9,11"}
_LONG_MONTHS = {29: "1,3-12", 30: "1,3-12", 31: "1,3,5,7,8,10,12"}


def cron_expressions(trigger: Trigger) -> tuple[str, ...]:
    """The cron expressions whose union is the trigger's schedule (empty: it has no ticks).

    Named intervals become cron anchored at ``start_time`` in the trigger's zone: ``@daily``
    with ``start_time`` 05:30 is ``30 5 * * *``; ``@monthly`` from the 31st is the 31st of long
    months and the last day of the others. ``@once``, ``@always_on``, ``api`` and ``event``
    triggers have none.
    """
    interval = trigger.schedule_interval
    if trigger.schedule_type != "time" or interval in (None, "@once", "@always_on"):
        return ()
    assert interval is not None
    if interval not in ("@hourly", "@daily", "@weekly", "@monthly"):
        return (CRON_MACROS.get(interval, interval),)
    start = start_of(trigger) or dt.datetime(2000, 1, 1, tzinfo=_UTC)  # Mage's midnight
    minute, hour = start.minute, start.hour
    if interval == "@hourly":
        return (f"{minute} * * * *",)
    if interval == "@daily":
        return (f"{minute} {hour} * * *",)
    if interval == "@weekly":
        return (f"{minute} {hour} * * {start.isoweekday() % 7}",)
    day = start.day
    if day <= 28:
        return (f"{minute} {hour} {day} * *",)
    return (f"{minute} {hour} {day} {_LONG_MONTHS[day]} *",
            f"{minute} {hour} L {_SHORT_MONTHS[day]} *")


def next_fire_times(trigger: Trigger, after: dt.datetime, count: int = 3) -> list[dt.datetime]:
    """The first ``count`` ticks strictly after ``after`` (and not before ``start_time``).

    The trigger's ``status`` is not consulted: this is its schedule, shown for inactive ones too.
    """
    after = _aware(after)
    floor = _floor(trigger)
    if floor is not None and after < floor:
        after = floor - _MICROSECOND
    if trigger.schedule_interval == "@once" and trigger.schedule_type == "time":
        start = _floor(trigger)
        return [start] if start is not None and start > after and count > 0 else []
    ticks: list[dt.datetime] = []
    iterator = _forward(trigger, after)
    while len(ticks) < count:
        tick = next(iterator, None)
        if tick is None:
            break
        ticks.append(_aware(tick))
    return ticks


def previous_tick(trigger: Trigger, at: dt.datetime) -> dt.datetime | None:
    """The latest tick at or before ``at`` (and not before ``start_time``), or None."""
    at = _aware(at)
    floor = _floor(trigger)
    if trigger.schedule_interval == "@once" and trigger.schedule_type == "time":
        return floor if floor is not None and floor <= at else None
    tick = _previous_raw(trigger, at)
    if tick is None or (floor is not None and tick < floor):
        return None
    return _aware(tick)


def ticks_between(trigger: Trigger, after: dt.datetime, until: dt.datetime
                  ) -> list[dt.datetime]:
    """Every tick in ``(after, until]``, oldest first."""
    until = _aware(until)
    ticks: list[dt.datetime] = []
    cursor = _aware(after)
    while True:
        found = next_fire_times(trigger, cursor, 1)
        if not found or found[0] > until:
            return ticks
        ticks.append(found[0])
        cursor = found[0]


def latest_due(trigger: Trigger, last_tick: dt.datetime | None, now: dt.datetime, *,
               active_since: dt.datetime | None = None) -> dt.datetime | None:
    """The most recent tick at or before ``now`` that has not run yet, or None.

    Args:
        trigger: The trigger; only an active time trigger has due ticks.
        last_tick: The scheduled time of its latest run (any outcome), or None if it never ran.
        now: The current time.
        active_since: When the trigger was created, enabled or last edited (as the scheduler
            first saw it); ticks at or before it are not due. None: ``last_tick`` alone bounds,
            and a trigger that never ran has nothing due until it has been seen once.
    """
    due = due_ticks(trigger.model_copy(update={"catchup": False}), last_tick, now,
                    active_since=active_since)
    return due[-1] if due else None


def due_ticks(trigger: Trigger, last_tick: dt.datetime | None, now: dt.datetime, *,
              active_since: dt.datetime | None = None) -> list[dt.datetime]:
    """The ticks to run now, oldest first: the latest missed one, or all of them with catchup.

    Arguments as for :func:`latest_due`. With ``settings.create_initial_pipeline_run`` a
    trigger that never ran also gets its latest past tick, even one before ``active_since``.
    """
    if trigger.schedule_type != "time" or trigger.status != "active":
        return []
    now = _aware(now)
    bounds = [_aware(t) for t in (last_tick, active_since) if t is not None]
    due: list[dt.datetime] = []
    if bounds:
        after = max(bounds)
        if trigger.catchup:
            due = ticks_between(trigger, after, now)
        else:
            tick = previous_tick(trigger, now)
            due = [tick] if tick is not None and tick > after else []
    if not due and last_tick is None and trigger.trigger_settings.create_initial_pipeline_run:
        tick = previous_tick(trigger, now)
        due = [tick] if tick is not None else []
    return due


def tick_interval(trigger: Trigger, tick: dt.datetime) -> Interval:
    """What the run of ``tick`` covers: from the tick to the next one (``@once``: no end).

    A daily 05:00 run covers 05:00 to 05:00 the next day; across a DST change in a named zone
    the interval is 23 or 25 hours long, and ``seconds`` says so.
    """
    tick = _aware(tick).astimezone(zone_of(trigger))
    following = next(_forward(trigger, tick), None)
    before = _previous_raw(trigger, tick - _MICROSECOND)
    return Interval(start=tick, end=following, previous_start=before)


def sla_deadline(trigger: Trigger, tick: dt.datetime) -> dt.datetime | None:
    """When the run of ``tick`` should have finished by (``tick + sla``), or None."""
    if not trigger.sla:
        return None
    return _aware(tick) + dt.timedelta(seconds=trigger.sla)


def sla_missed(trigger: Trigger, tick: dt.datetime, now: dt.datetime,
               finished_at: dt.datetime | None = None) -> bool:
    """Whether the run of ``tick`` missed its SLA: still running, or finished, after the deadline.

    Mage checks runs in progress only; a run that finished late has missed it too.
    """
    deadline = sla_deadline(trigger, tick)
    if deadline is None:
        return False
    return _aware(finished_at if finished_at is not None else now) > deadline


def run_deadline(trigger: Trigger, started_at: dt.datetime) -> dt.datetime | None:
    """When a run started at ``started_at`` times out (``settings.timeout``), or None."""
    timeout = trigger.trigger_settings.timeout
    return _aware(started_at) + dt.timedelta(seconds=timeout) if timeout else None


def skip_reason(trigger: Trigger, running: int, pipeline_run_limit: int | None = None
                ) -> str | None:
    """Why a due tick must not start a run now, or None to start it.

    Args:
        trigger: The trigger.
        running: How many runs of this trigger are in progress.
        pipeline_run_limit: The pipeline's ``concurrency_config.pipeline_run_limit``, used when
            the trigger sets no limit of its own (as in Mage).

    A tick skipped for ``skip_if_previous_running`` is done (recorded as skipped, not run
    later); one held back by a run limit waits for a free slot.
    """
    settings = trigger.trigger_settings
    if settings.skip_if_previous_running and running > 0:
        return "the previous run is still running (skip_if_previous_running)"
    limit = settings.pipeline_run_limit or pipeline_run_limit
    if limit is not None and running >= limit:
        return f"{running} runs in progress reach pipeline_run_limit {limit}"
    return None


def _aware(moment: dt.datetime) -> dt.datetime:
    # In UTC: Python compares two datetimes of one zone by wall clock, which puts the two
    # 02:30s of a night when clocks go back at the same time.
    return moment.astimezone(_UTC) if moment.tzinfo is not None else moment.replace(tzinfo=_UTC)


def _floor(trigger: Trigger) -> dt.datetime | None:
    start = start_of(trigger)
    if start is None or trigger.schedule_interval == "@once":
        return _aware(start) if start is not None else None
    # Cron fires on whole minutes: a start at 05:00:30 still lets the 05:00 tick of that day run.
    return _aware(start.replace(second=0, microsecond=0))


def _forward(trigger: Trigger, after: dt.datetime) -> Iterator[dt.datetime]:
    """Ticks strictly after ``after``, merged over the trigger's expressions, no start bound."""
    from cronsim import CronSim

    zone = zone_of(trigger)
    local = _aware(after).astimezone(zone)
    iterators = [CronSim(expression, local) for expression in cron_expressions(trigger)]
    pending = [next(iterator, None) for iterator in iterators]
    while any(tick is not None for tick in pending):
        tick = min((t for t in pending if t is not None), key=dt.datetime.timestamp)
        for index, candidate in enumerate(pending):
            if candidate is not None and candidate.timestamp() == tick.timestamp():
                pending[index] = next(iterators[index], None)
        yield tick.astimezone(zone)


def _previous_raw(trigger: Trigger, at: dt.datetime) -> dt.datetime | None:
    """The latest tick at or before ``at``, no start bound."""
    from cronsim import CronSim

    zone = zone_of(trigger)
    local = _aware(at).astimezone(zone) + _MICROSECOND
    found = [next(CronSim(expression, local, reverse=True), None)
             for expression in cron_expressions(trigger)]
    ticks = [tick for tick in found if tick is not None]
    if not ticks:
        return None
    latest = max(ticks, key=dt.datetime.timestamp)
    # cronsim's reverse iteration can land on the first of two equal wall-clock times when
    # clocks go back; forward iteration knows both, so step forward to the real latest.
    for tick in _forward(trigger, latest):
        if tick.timestamp() > at.timestamp():
            break
        latest = tick
    return latest.astimezone(zone)
