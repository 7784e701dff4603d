"""Local days -> UTC hours, and the split of a range into whole UTC days and partial-day edges."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from fmd.queries._range import MAX_DAYS, DatePeriod, TimeRange


def test_utc_days_need_no_edges() -> None:
    rng = DatePeriod(date(2024, 3, 4), date(2024, 3, 10), "UTC").utc
    assert rng == TimeRange(datetime(2024, 3, 4), datetime(2024, 3, 11))
    assert rng.split() == ((datetime(2024, 3, 4), datetime(2024, 3, 11)), [])


def test_a_zone_west_of_utc_has_two_partial_days() -> None:
    rng = DatePeriod(date(2024, 1, 8), date(2024, 1, 9), "America/New_York").utc  # UTC-5 in winter
    assert rng == TimeRange(datetime(2024, 1, 8, 5), datetime(2024, 1, 10, 5))
    days, edges = rng.split()
    assert days == (datetime(2024, 1, 9), datetime(2024, 1, 10))
    assert edges == [(datetime(2024, 1, 8, 5), datetime(2024, 1, 9)), (datetime(2024, 1, 10), datetime(2024, 1, 10, 5))]


def test_daylight_saving_day_is_23_hours() -> None:
    rng = DatePeriod(date(2024, 3, 31), date(2024, 3, 31), "Europe/Amsterdam").utc
    assert rng.hours == 23 and rng.start == datetime(2024, 3, 30, 23)


def test_fractional_offsets_widen_to_whole_hours() -> None:
    rng = DatePeriod(date(2024, 1, 8), date(2024, 1, 8), "Asia/Kolkata").utc  # UTC+05:30
    assert rng == TimeRange(datetime(2024, 1, 7, 18), datetime(2024, 1, 8, 19))


def test_a_range_inside_one_day_reads_only_hours() -> None:
    rng = TimeRange.of(datetime(2024, 1, 8, 3, 15), datetime(2024, 1, 8, 7, 1))
    assert rng == TimeRange(datetime(2024, 1, 8, 3), datetime(2024, 1, 8, 8))
    assert rng.split() == (None, [(rng.start, rng.end)])


@pytest.mark.parametrize("first, last, message", [
    (date(2024, 3, 2), date(2024, 3, 1), "before the start"),
    (date(1999, 12, 31), date(2000, 1, 2), "between"),
    (date(2020, 1, 1), date(2024, 1, 1), f"at most {MAX_DAYS} days"),
])
def test_bad_periods_say_why(first: date, last: date, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DatePeriod(first, last, "UTC")


def test_last_days_ends_today_in_the_zone() -> None:
    now = datetime(2024, 3, 10, 3, 0)  # still March 9th in New York
    assert DatePeriod.last_days(7, now, "America/New_York") == DatePeriod(date(2024, 3, 3), date(2024, 3, 9),
                                                                         "America/New_York")
