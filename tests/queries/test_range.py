"""Local days -> UTC hours, and the split of a range into whole UTC days and partial-day edges."""

from __future__ import annotations

from datetime import date, datetime, timedelta

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


NOW = datetime(2026, 11, 27, 17, 20)  # naive UTC


@pytest.mark.parametrize("hours", [1, 6, 24, 72, 73, 74, 168, 2160])
def test_a_rolling_range_covers_at_least_its_hours_in_whole_hours(hours: int) -> None:
    period = DatePeriod.last_hours(hours, NOW, "UTC")
    rng = period.utc
    assert rng.start == datetime(2026, 11, 27, 17) - timedelta(hours=hours) <= NOW - timedelta(hours=hours)
    assert rng.end == datetime(2026, 11, 27, 18) and rng.hours == hours + 1  # the current hour is included
    assert period.hourly == (hours + 1 <= 74) and period.rolling is not None  # last=72h is hourly


def test_rolling_tokens_and_labels() -> None:
    six = DatePeriod.last_hours(6, NOW, "Europe/Amsterdam")  # UTC+1 in November
    assert six.rolling == "6h" and six.since_label() == "since 12:00"
    assert six.describe() == "the last 6 hours (since 12:00)"
    week = DatePeriod.last_hours(168, NOW, "Europe/Amsterdam")
    assert week.rolling == "7d" and week.since_label() == "since 2026-11-20 18:00"
    assert (week.first, week.last) == (date(2026, 11, 20), date(2026, 11, 27))
    assert DatePeriod.last_hours(1, NOW, "UTC").describe() == "the last hour (since 16:00)"
    assert DatePeriod.last_days(7, NOW, "UTC").since_label() == ""


def test_hourly_edges_and_labels_are_local_hours() -> None:
    period = DatePeriod.last_hours(24, NOW, "America/New_York")  # UTC-5
    edges, labels = period.edges(), period.bucket_labels()
    assert len(edges) == 26 and len(labels) == 25
    assert edges[0] == datetime(2026, 11, 26, 17) and edges[-1] == datetime(2026, 11, 27, 18)
    assert labels[0] == "2026-11-26 12:00" and labels[-1] == "2026-11-27 12:00"


def test_daily_edges_of_a_rolling_range_start_at_its_start() -> None:
    period = DatePeriod.last_hours(30 * 24, NOW, "Asia/Kolkata")
    edges = period.edges()
    assert not period.hourly and edges[0] == period.utc.start and edges[-1] == period.utc.end
    assert edges == sorted(edges) and len(edges) == period.days + 1
    assert len(period.bucket_labels()) == period.days


def test_calendar_edges_are_unchanged() -> None:
    period = DatePeriod(date(2024, 3, 1), date(2024, 3, 7), "UTC")
    assert not period.hourly and period.edges() == [datetime(2024, 3, d) for d in range(1, 9)]
    one = DatePeriod(date(2024, 3, 1), date(2024, 3, 1), "UTC")
    assert one.hourly and len(one.edges()) == 25 and one.bucket_labels()[5] == "2024-03-01 05:00"


def test_the_previous_period_has_the_same_length_and_ends_at_the_start() -> None:
    for period in (DatePeriod.last_hours(6, NOW, "UTC"), DatePeriod.last_hours(720, NOW, "Europe/Berlin"),
                   DatePeriod(date(2024, 3, 1), date(2024, 3, 7), "Europe/Berlin")):
        before = period.previous()
        assert before.utc.end == period.utc.start
        assert before.days == period.days or before.utc.hours == period.utc.hours
    calendar = DatePeriod(date(2024, 3, 8), date(2024, 3, 14), "UTC").previous()
    assert (calendar.first, calendar.last, calendar.rolling) == (date(2024, 3, 1), date(2024, 3, 7), None)


@pytest.mark.parametrize("tz", ["UTC", "Asia/Kolkata", "America/New_York", "Australia/Lord_Howe"])
def test_the_longest_rolling_range_is_accepted(tz: str) -> None:
    """last=400d (9,600 hours, the most the URL takes) touches 401 local dates, more than MAX_DAYS: still shown."""
    for now in (NOW, datetime(2026, 3, 30, 23, 40), datetime(2026, 11, 1, 0, 5)):
        period = DatePeriod.last_hours(MAX_DAYS * 24, now, tz)
        assert period.rolling == f"{MAX_DAYS}d" and period.utc.hours == MAX_DAYS * 24 + 1
        assert period.previous().utc.end == period.utc.start
    with pytest.raises(ValueError):
        DatePeriod.last_hours(MAX_DAYS * 24 + 1, NOW, "UTC")
    with pytest.raises(ValueError):
        DatePeriod(date(2024, 1, 1), date(2024, 1, 1) + timedelta(days=MAX_DAYS), "UTC")


def test_hourly_labels_in_a_fractional_offset_zone_name_the_local_time_the_hour_starts() -> None:
    """India is UTC+05:30: the UTC hour 11:00-12:00 is 16:30-17:30 there, labelled 16:30 (not 16:00)."""
    period = DatePeriod.last_hours(6, NOW, "Asia/Kolkata")
    labels = period.bucket_labels()
    assert period.since_label() == "since 16:30" and labels[0] == "2026-11-27 16:30"
    assert labels[-1] == "2026-11-27 22:30" and len(set(labels)) == len(labels) == 7
