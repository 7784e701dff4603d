"""Schedules: checked at add_graph with the field named, and the tick grid they stand for (pure, any clock)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from fmd import ConfigError
from fmd.graphs.schedule import EPOCH, parse_schedule

UTC = timezone.utc


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize("trigger, fields, named", [
    ("hourly", {"seconds": 1}, "trigger"),
    (None, {}, "trigger"),
    ("interval", {"second": 10}, "second"),  # singular with interval: says plural
    ("interval", {"seconds": -5}, "seconds"),
    ("interval", {"seconds": 0}, "seconds=0"),
    ("interval", {"seconds": 0.5}, "at least 1 second"),
    ("interval", {"minutes": "5"}, "minutes"),
    ("interval", {"seconds": True}, "seconds"),
    ("interval", {"seconds": float("nan")}, "seconds"),
    ("interval", {}, "needs a period"),
    ("interval", {"weeks": 600_000}, "at most 366 days"),  # its ticks would be past the year 9999
    ("interval", {"seconds": 1, "timezone": "UTC"}, "timezone"),
    ("interval", {"seconds": 10, "jitter": 2}, "jitter"),
    ("interval", {"seconds": 10, "start_date": "2024-01-01"}, "start_date"),
    ("cron", {"seconds": 1}, "seconds"),  # plural with cron: says singular
    ("cron", {"minute": 70}, "minute=70"),
    ("cron", {"hour": "25"}, "hour='25'"),
    ("cron", {"day_of_week": "someday"}, "day_of_week"),
    ("cron", {"second": 1.5}, "second"),
    ("cron", {"second": 0, "timezone": "Mars/Olympus"}, "timezone"),
    ("cron", {}, "at least one field"),
    ("cron", {"year": 2001}, "never fires again"),
    ("cron", {"bogus": 1}, "bogus"),
])
def test_an_invalid_schedule_is_refused_naming_the_field(trigger, fields, named) -> None:  # noqa: ANN001
    with pytest.raises(ConfigError) as caught:
        parse_schedule(trigger, fields)
    assert named in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_singular_and_plural_mixups_suggest_the_right_spelling() -> None:
    with pytest.raises(ConfigError, match=r"did you mean seconds=\.\.\.\?"):
        parse_schedule("interval", {"second": 1})
    with pytest.raises(ConfigError, match=r"did you mean hour=\.\.\.\?"):
        parse_schedule("cron", {"hours": 1})


def test_interval_ticks_are_counted_from_the_epoch_not_from_the_start() -> None:
    s = parse_schedule("interval", {"seconds": 10})
    assert s.period_us == 10_000_000
    # Two workers starting at different moments agree on every tick.
    assert s.next_tick(at(2024, 5, 1, 12, 0, 3)) == at(2024, 5, 1, 12, 0, 10)
    assert s.next_tick(at(2024, 5, 1, 12, 0, 7, 999999)) == at(2024, 5, 1, 12, 0, 10)
    assert s.next_tick(at(2024, 5, 1, 12, 0, 10)) == at(2024, 5, 1, 12, 0, 20)  # strictly after
    assert s.ticks(at(2024, 5, 1, 12, 0, 5), at(2024, 5, 1, 12, 0, 40)) == [
        at(2024, 5, 1, 12, 0, 10), at(2024, 5, 1, 12, 0, 20), at(2024, 5, 1, 12, 0, 30)]
    # A period that does not divide a day is still one grid: ticks are EPOCH + k * period.
    odd = parse_schedule("interval", {"minutes": 7, "seconds": 3})
    for tick in odd.ticks(at(2024, 5, 1), at(2024, 5, 2)):
        assert (tick - EPOCH).total_seconds() % 423 == 0
    assert odd.describe() == "every 423 seconds"
    week = parse_schedule("interval", {"weeks": 1})
    assert week.next_tick(at(2024, 5, 1)) == at(2024, 5, 2)  # 1970-01-01 was a Thursday


def test_latest_tick_within_a_window() -> None:
    s = parse_schedule("interval", {"seconds": 10})
    assert s.latest_tick(at(2024, 5, 1, 12, 0, 13), timedelta(seconds=5)) == at(2024, 5, 1, 12, 0, 10)
    assert s.latest_tick(at(2024, 5, 1, 12, 0, 17), timedelta(seconds=5)) is None
    c = parse_schedule("cron", {"second": "*/15"})
    assert c.latest_tick(at(2024, 5, 1, 12, 0, 47), timedelta(seconds=20)) == at(2024, 5, 1, 12, 0, 45)


def test_interval_grid_matches_apschedulers_trigger() -> None:
    s = parse_schedule("interval", {"seconds": 7})
    trigger = s.apscheduler_trigger()
    now = at(2024, 5, 1, 12, 0, 4)  # (12:00:03 is on the 7-second grid: both then give it, or the next)
    fire = trigger.get_next_fire_time(None, now)
    assert fire == s.next_tick(now) == at(2024, 5, 1, 12, 0, 10)
    assert trigger.get_next_fire_time(fire, fire) == s.next_tick(fire)


def test_cron_fields_follow_apscheduler() -> None:
    daily = parse_schedule("cron", {"hour": 0})
    assert daily.describe() == "cron: hour=0 (UTC)"
    assert daily.next_tick(at(2024, 5, 1, 12)) == at(2024, 5, 2)  # smaller fields default to their first value
    assert daily.typical_period(at(2024, 5, 1, 12)) == 86400
    every_minute = parse_schedule("cron", {"second": 1})
    assert every_minute.ticks(at(2024, 5, 1, 12), at(2024, 5, 1, 12, 3)) == [
        at(2024, 5, 1, 12, 0, 1), at(2024, 5, 1, 12, 1, 1), at(2024, 5, 1, 12, 2, 1)]
    weekdays = parse_schedule("cron", {"day_of_week": "mon-fri", "hour": 9, "minute": 30})
    ticks = weekdays.ticks(at(2024, 5, 3), at(2024, 5, 7))  # Friday to Monday
    assert ticks == [at(2024, 5, 3, 9, 30), at(2024, 5, 6, 9, 30)]


def test_cron_reads_its_fields_in_its_zone() -> None:
    paris = parse_schedule("cron", {"hour": 0, "timezone": "Europe/Paris"})
    assert paris.describe() == "cron: hour=0 (Europe/Paris)"
    assert paris.next_tick(at(2024, 7, 1, 12)) == at(2024, 7, 1, 22)  # midnight in Paris, summer time
    unset = parse_schedule("cron", {"hour": 0})
    assert unset.with_default_tz("Asia/Tokyo").next_tick(at(2024, 7, 1, 12)) == at(2024, 7, 1, 15)
    assert paris.with_default_tz("Asia/Tokyo") is paris  # an explicit zone wins
    interval = parse_schedule("interval", {"hours": 1})
    assert interval.with_default_tz("Asia/Tokyo") is interval


def test_naive_times_are_read_as_utc() -> None:
    s = parse_schedule("interval", {"minutes": 1})
    assert s.next_tick(datetime(2024, 5, 1, 12, 0, 30)) == at(2024, 5, 1, 12, 1)


def test_describe_is_readable() -> None:
    assert parse_schedule("interval", {"seconds": 1}).describe() == "every second"
    assert parse_schedule("interval", {"minutes": 5}).describe() == "every 5 minutes"
    assert parse_schedule("interval", {"hours": 1}).describe() == "every hour"
    assert parse_schedule("interval", {"days": 2}).describe() == "every 2 days"
    assert parse_schedule("interval", {"seconds": 1.5}).describe() == "every 1.5 seconds"
    assert parse_schedule("cron", {"minute": "*/5", "second": 1}).describe() == "cron: minute=*/5, second=1 (UTC)"
