import datetime as dt
import itertools

import pytest

from jupyter_blocks.core.errors import ConfigError
from jupyter_blocks.schedule.intervals import Interval, add_months, intervals, run_variables_for

D = dt.datetime


def test_days_of_a_quarter_exclude_the_end():
    days = intervals(dt.date(2020, 10, 1), dt.date(2021, 1, 1), "day")
    assert len(days) == 92
    assert days[0] == Interval(D(2020, 10, 1), D(2020, 10, 2), D(2020, 9, 30))
    assert days[-1].start == D(2020, 12, 31) and days[-1].end == D(2021, 1, 1)
    # Mage includes the end.
    assert len(intervals(dt.date(2020, 10, 1), dt.date(2021, 1, 1), "day", include_end=True)) == 93


def test_consecutive_backfills_do_not_overlap():
    first = intervals(dt.date(2020, 10, 1), dt.date(2020, 11, 1), "day")
    second = intervals(dt.date(2020, 11, 1), dt.date(2020, 12, 1), "day")
    assert first[-1].end == second[0].start
    assert not {i.start for i in first} & {i.start for i in second}


@pytest.mark.parametrize("start, end, expected", [
    (D(2020, 10, 1), D(2021, 1, 1), [D(2020, 10, 1), D(2020, 11, 1), D(2020, 12, 1)]),
    # Month ends: from the 31st, the last day of shorter months, then back to the 31st.
    (D(2020, 1, 31), D(2020, 6, 1), [D(2020, 1, 31), D(2020, 2, 29), D(2020, 3, 31),
                                     D(2020, 4, 30), D(2020, 5, 31)]),
    (D(2021, 1, 31), D(2021, 4, 1), [D(2021, 1, 31), D(2021, 2, 28), D(2021, 3, 31)]),
    (D(2020, 11, 15, 6), D(2021, 2, 1), [D(2020, 11, 15, 6), D(2020, 12, 15, 6),
                                         D(2021, 1, 15, 6)]),
])
def test_months(start, end, expected):
    months = intervals(start, end, "month")
    assert [m.start for m in months] == expected
    assert months[-1].end == add_months(expected[-1], 1)
    assert all(a.end == b.start for a, b in itertools.pairwise(months))


def test_hours_and_weeks():
    hours = intervals(D(2020, 10, 1, 22), D(2020, 10, 2, 2), "hour")
    assert [h.start.hour for h in hours] == [22, 23, 0, 1]
    assert all(h.seconds == 3600 for h in hours)
    weeks = intervals(dt.date(2020, 10, 1), dt.date(2020, 10, 29), "week")
    assert [w.start.day for w in weeks] == [1, 8, 15, 22]
    assert weeks[0].seconds == 7 * 86400


def test_cron_intervals_start_at_the_ticks_in_range():
    runs = intervals(D(2020, 10, 1, 1), D(2020, 10, 2), "0 */6 * * *")
    assert [r.start for r in runs] == [D(2020, 10, 1, 6), D(2020, 10, 1, 12), D(2020, 10, 1, 18)]
    assert runs[-1].end == D(2020, 10, 2)
    assert runs[0].previous_start == D(2020, 10, 1, 0)
    weekdays = intervals(dt.date(2020, 10, 1), dt.date(2020, 10, 8), "0 5 * * 1-5")
    assert [w.start.day for w in weekdays] == [1, 2, 5, 6, 7]
    assert weekdays[1].seconds == 3 * 86400  # Friday to Monday


def test_run_variables():
    variables = run_variables_for(Interval(D(2020, 10, 1, 5), D(2020, 10, 2, 5), D(2020, 9, 30, 5)))
    assert variables == {
        "execution_date": D(2020, 10, 1, 5),
        "ds": "2020-10-01",
        "hr": "05",
        "interval_start_datetime": D(2020, 10, 1, 5),
        "interval_end_datetime": D(2020, 10, 2, 5),
        "interval_seconds": 86400,
        "interval_start_datetime_previous": D(2020, 9, 30, 5),
    }


def test_empty_and_bad_ranges():
    assert intervals(dt.date(2020, 10, 1), dt.date(2020, 10, 1), "day") == []
    assert len(intervals(dt.date(2020, 10, 1), dt.date(2020, 10, 1), "day", include_end=True)) == 1
    with pytest.raises(ConfigError, match="--end 2020-09-01T00:00:00 is before --start"):
        intervals(dt.date(2020, 10, 1), dt.date(2020, 9, 1), "day")
    with pytest.raises(ConfigError, match=r"'days' is neither one of hour, day, week, month nor a "
                                          r"cron expression .* \(did you mean `day`\?\)"):
        intervals(dt.date(2020, 10, 1), dt.date(2020, 11, 1), "days")
    with pytest.raises(ConfigError, match="both have a time zone offset"):
        intervals(D(2020, 10, 1, tzinfo=dt.timezone.utc), D(2020, 11, 1), "day")


def test_aware_bounds_stay_aware():
    utc = dt.timezone.utc
    days = intervals(D(2020, 10, 1, tzinfo=utc), D(2020, 10, 3, tzinfo=utc), "day")
    assert [d.start for d in days] == [D(2020, 10, 1, tzinfo=utc), D(2020, 10, 2, tzinfo=utc)]
    assert run_variables_for(days[0])["ds"] == "2020-10-01"
