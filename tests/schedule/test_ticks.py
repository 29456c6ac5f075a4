import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from jupyter_blocks.project.triggers import Trigger
from jupyter_blocks.schedule import ticks

UTC = dt.timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")


def at(*parts, tz=UTC):
    return dt.datetime(*parts, tzinfo=tz)


def trigger(interval, start=dt.datetime(2024, 1, 15, 5, 0), **keys):
    return Trigger(name="t", schedule_interval=interval, start_time=start, status="active", **keys)


@pytest.mark.parametrize("interval, start, after, expected", [
    # Named intervals fire at start_time's time of day, weekday, day of month; not at midnight.
    ("@daily", dt.datetime(2024, 1, 15, 5, 0), at(2024, 1, 20, 12),
     [at(2024, 1, 21, 5), at(2024, 1, 22, 5), at(2024, 1, 23, 5)]),
    ("@hourly", dt.datetime(2024, 1, 15, 5, 15), at(2024, 1, 20, 12),
     [at(2024, 1, 20, 12, 15), at(2024, 1, 20, 13, 15), at(2024, 1, 20, 14, 15)]),
    ("@weekly", dt.datetime(2024, 1, 17, 5, 0), at(2024, 1, 20),  # a Wednesday
     [at(2024, 1, 24, 5), at(2024, 1, 31, 5), at(2024, 2, 7, 5)]),
    ("@monthly", dt.datetime(2024, 1, 15, 5, 0), at(2024, 1, 20),
     [at(2024, 2, 15, 5), at(2024, 3, 15, 5), at(2024, 4, 15, 5)]),
    # From the 31st: the last day of shorter months, then the 31st again.
    ("@monthly", dt.datetime(2024, 1, 31, 5, 0), at(2024, 1, 31, 6),
     [at(2024, 2, 29, 5), at(2024, 3, 31, 5), at(2024, 4, 30, 5)]),
    ("@monthly", dt.datetime(2023, 1, 30, 0, 0), at(2023, 1, 31),
     [at(2023, 2, 28), at(2023, 3, 30), at(2023, 4, 30)]),
    # Ticks before start_time never fire.
    ("@daily", dt.datetime(2024, 1, 15, 5, 0), at(2020, 1, 1),
     [at(2024, 1, 15, 5), at(2024, 1, 16, 5), at(2024, 1, 17, 5)]),
    ("0 */6 * * *", dt.datetime(2024, 1, 15, 7, 0), at(2024, 1, 1),
     [at(2024, 1, 15, 12), at(2024, 1, 15, 18), at(2024, 1, 16, 0)]),
    # A date is midnight; seconds of start_time do not push the first tick to the next day.
    ("@daily", dt.date(2024, 1, 15), at(2024, 1, 1), [at(2024, 1, 15), at(2024, 1, 16),
                                                       at(2024, 1, 17)]),
    ("@daily", dt.datetime(2024, 1, 15, 5, 0, 30), at(2024, 1, 1),
     [at(2024, 1, 15, 5), at(2024, 1, 16, 5), at(2024, 1, 17, 5)]),
    ("@once", dt.datetime(2024, 1, 15, 5, 0, 30), at(2024, 1, 1), [at(2024, 1, 15, 5, 0, 30)]),
    ("@once", dt.datetime(2024, 1, 15, 5, 0), at(2024, 1, 15, 5), []),
    ("@yearly", dt.datetime(2024, 1, 15), at(2024, 1, 1), [at(2025, 1, 1), at(2026, 1, 1),
                                                          at(2027, 1, 1)]),
    ("@always_on", dt.datetime(2024, 1, 15), at(2024, 1, 1), []),
])
def test_next_fire_times(interval, start, after, expected):
    assert ticks.next_fire_times(trigger(interval, start), after, 3) == expected


def test_aware_start_time_keeps_its_instant():
    daily = trigger("@daily", dt.datetime(2024, 1, 15, 6, 0, tzinfo=dt.timezone(dt.timedelta(hours=1))))
    assert ticks.next_fire_times(daily, at(2024, 1, 20), 1) == [at(2024, 1, 20, 5)]


def test_api_and_inactive_triggers():
    api = Trigger(name="hook", schedule_type="api", status="active")
    assert ticks.next_fire_times(api, at(2024, 1, 1)) == []
    assert ticks.due_ticks(api, None, at(2024, 1, 1), active_since=at(2023, 1, 1)) == []
    inactive = trigger("@daily").model_copy(update={"status": "inactive"})
    assert ticks.next_fire_times(inactive, at(2024, 1, 20), 1) == [at(2024, 1, 20, 5)]
    assert ticks.due_ticks(inactive, at(2024, 1, 18, 5), at(2024, 1, 20, 12)) == []


def test_named_zone_daily_keeps_wall_clock_across_dst():
    daily = trigger("@daily", dt.datetime(2024, 3, 29, 5, 0), timezone="Europe/Berlin")
    fired = ticks.next_fire_times(daily, at(2024, 3, 29), 3)
    assert [t.astimezone(BERLIN).hour for t in fired] == [5, 5, 5]
    assert [t.hour for t in fired] == [4, 4, 3]  # UTC: CET, then CEST from 31 March
    interval = ticks.tick_interval(daily, fired[1])  # 30 to 31 March: 23 hours
    assert interval.seconds == 23 * 3600
    assert interval.start.tzinfo is BERLIN and interval.start.hour == 5


def test_dst_changes_give_one_run_per_tick():
    nightly = trigger("30 2 * * *", dt.date(2024, 1, 1), timezone="Europe/Berlin")
    # 31 March skips 02:30: it runs at 03:00 that day, once.
    spring = ticks.next_fire_times(nightly, at(2024, 3, 30, 12, tz=BERLIN), 2)
    assert spring == [at(2024, 3, 31, 1, 0), at(2024, 4, 1, 0, 30)]  # 03:00 and 02:30 CEST
    # 27 October has 02:30 twice: one run.
    autumn = ticks.next_fire_times(nightly, at(2024, 10, 26, 12, tz=BERLIN), 2)
    assert autumn == [at(2024, 10, 27, 0, 30), at(2024, 10, 28, 1, 30)]  # 02:30 CEST, CET
    # Hourly runs every real hour, also the repeated one.
    hourly = trigger("@hourly", dt.date(2024, 1, 1), timezone="Europe/Berlin")
    hours = ticks.next_fire_times(hourly, at(2024, 10, 26, 23, 30), 4)
    assert [t.timestamp() - hours[0].timestamp() for t in hours] == [3600 * n for n in range(4)]


def test_after_a_restart_only_the_latest_missed_tick_runs():
    daily = trigger("@daily")
    last = at(2024, 1, 17, 5)
    now = at(2024, 1, 20, 12)
    assert ticks.due_ticks(daily, last, now) == [at(2024, 1, 20, 5)]
    assert ticks.latest_due(daily, last, now) == at(2024, 1, 20, 5)


def test_catchup_runs_every_missed_tick_oldest_first():
    daily = trigger("@daily", catchup=True)
    assert ticks.due_ticks(daily, at(2024, 1, 17, 5), at(2024, 1, 20, 12)) == [
        at(2024, 1, 18, 5), at(2024, 1, 19, 5), at(2024, 1, 20, 5)]
    # latest_due is the latest one, catchup or not.
    assert ticks.latest_due(daily, at(2024, 1, 17, 5), at(2024, 1, 20, 12)) == at(2024, 1, 20, 5)


def test_a_tick_that_ran_is_never_due_again():
    daily = trigger("@daily", catchup=True)
    assert ticks.due_ticks(daily, at(2024, 1, 20, 5), at(2024, 1, 20, 12)) == []
    assert ticks.due_ticks(daily, at(2024, 1, 20, 5), at(2024, 1, 21, 5)) == [at(2024, 1, 21, 5)]


def test_a_new_or_edited_trigger_waits_for_its_next_tick():
    daily = trigger("@daily")
    seen = at(2024, 1, 20, 12)
    assert ticks.due_ticks(daily, None, at(2024, 1, 20, 12, 5), active_since=seen) == []
    assert ticks.due_ticks(daily, None, at(2024, 1, 21, 5, 0, 10), active_since=seen) == [
        at(2024, 1, 21, 5)]
    # Never seen before: nothing is due yet.
    assert ticks.due_ticks(daily, None, at(2024, 1, 20, 12)) == []
    # Edited after its last run: the old schedule's ticks before the edit do not run.
    assert ticks.due_ticks(daily, at(2024, 1, 18, 5), at(2024, 1, 20, 12),
                           active_since=at(2024, 1, 20, 11)) == []


def test_create_initial_pipeline_run_runs_the_latest_past_tick_at_once():
    daily = trigger("@daily", settings={"create_initial_pipeline_run": True})
    seen = at(2024, 1, 20, 12)
    assert ticks.due_ticks(daily, None, seen, active_since=seen) == [at(2024, 1, 20, 5)]
    assert ticks.due_ticks(daily, at(2024, 1, 20, 5), seen, active_since=seen) == []
    once = trigger("@once", dt.datetime(2024, 1, 1), settings={"create_initial_pipeline_run": True})
    assert ticks.due_ticks(once, None, seen, active_since=seen) == [at(2024, 1, 1)]


def test_once_runs_at_its_start_time_once():
    once = trigger("@once", dt.datetime(2024, 1, 21, 5, 0))
    seen = at(2024, 1, 20, 12)
    assert ticks.due_ticks(once, None, at(2024, 1, 21, 4), active_since=seen) == []
    assert ticks.due_ticks(once, None, at(2024, 1, 21, 6), active_since=seen) == [at(2024, 1, 21, 5)]
    assert ticks.due_ticks(once, at(2024, 1, 21, 5), at(2024, 1, 22), active_since=seen) == []
    assert ticks.tick_interval(once, at(2024, 1, 21, 5)).end is None


def test_daily_run_covers_its_tick_to_the_next():
    interval = ticks.tick_interval(trigger("@daily"), at(2024, 1, 20, 5))
    assert (interval.start, interval.end, interval.seconds) == (
        at(2024, 1, 20, 5), at(2024, 1, 21, 5), 86400)
    assert interval.previous_start == at(2024, 1, 19, 5)
    monthly = ticks.tick_interval(trigger("@monthly", dt.datetime(2024, 1, 31)), at(2024, 2, 29))
    assert monthly.end == at(2024, 3, 31) and monthly.seconds == 31 * 86400


def test_sla_timeout_and_skipping():
    daily = trigger("@daily", sla=3600, settings={"timeout": 600, "skip_if_previous_running": True})
    tick = at(2024, 1, 20, 5)
    assert ticks.sla_deadline(daily, tick) == at(2024, 1, 20, 6)
    assert not ticks.sla_missed(daily, tick, now=at(2024, 1, 20, 5, 30))
    assert ticks.sla_missed(daily, tick, now=at(2024, 1, 20, 6, 1))
    assert ticks.sla_missed(daily, tick, now=at(2024, 1, 21), finished_at=at(2024, 1, 20, 6, 1))
    assert not ticks.sla_missed(trigger("@daily"), tick, now=at(2030, 1, 1))
    assert ticks.run_deadline(daily, at(2024, 1, 20, 5, 1)) == at(2024, 1, 20, 5, 11)
    assert "skip_if_previous_running" in ticks.skip_reason(daily, running=1)
    assert ticks.skip_reason(daily, running=0) is None
    limited = trigger("@daily", settings={"pipeline_run_limit": 2})
    assert ticks.skip_reason(limited, running=1) is None
    assert "pipeline_run_limit 2" in ticks.skip_reason(limited, running=2)
    assert "pipeline_run_limit 1" in ticks.skip_reason(trigger("@daily"), 1, pipeline_run_limit=1)


def test_naive_now_is_utc():
    assert ticks.next_fire_times(trigger("@daily"), dt.datetime(2024, 1, 20, 12), 1) == [
        at(2024, 1, 21, 5)]


def test_the_repeated_hour_is_due_when_clocks_go_back():
    hourly = trigger("@hourly", dt.date(2024, 1, 1), timezone="Europe/Berlin")
    first = at(2024, 10, 27, 0, tz=UTC)  # 02:00 CEST
    second = at(2024, 10, 27, 1, tz=UTC)  # 02:00 CET, the same wall-clock time
    assert ticks.due_ticks(hourly, first, second) == [second]
    assert ticks.due_ticks(hourly, first.astimezone(BERLIN), second.astimezone(BERLIN)) == [second]
    assert ticks.due_ticks(hourly, second, second) == []
