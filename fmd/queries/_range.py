"""Time ranges for the rollup tables: local calendar days in TIMEZONE -> whole UTC hours, and the split of a
range into whole UTC days (read from ``histogram_day``) and partial days at its edges (``histogram_hour``).
Counters split finer, per local day: see ``_counters``.

Rollups are keyed by naive UTC hours, so every range here is ``[start, end)`` in naive UTC, both on a whole
hour. A local day in a zone with a fractional offset (India, +05:30) widens to the enclosing UTC hours: the
rollups cannot be cut finer than an hour.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
#: The longest range a page may ask for (a bigger one is refused with a message, see fmd.blueprints._params).
MAX_DAYS = 400
#: The earliest date accepted anywhere (rollup times are naive UTC datetimes; SQLite/MySQL dislike year 1).
MIN_DATE = date(2000, 1, 1)
MAX_DATE = date(2999, 12, 31)


def floor_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def ceil_hour(moment: datetime) -> datetime:
    floored = floor_hour(moment)
    return floored if floored == moment else floored + HOUR


def floor_day(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def ceil_day(moment: datetime) -> datetime:
    floored = floor_day(moment)
    return floored if floored == moment else floored + DAY


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def to_local(moment: datetime, tz: str) -> datetime:
    """A naive UTC datetime as an aware datetime in *tz*."""
    return moment.replace(tzinfo=timezone.utc).astimezone(ZoneInfo(tz))


def local_midnight_utc(day: date, tz: str) -> datetime:
    """The naive UTC moment at which *day* starts in *tz*."""
    local = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(tz))
    return local.astimezone(timezone.utc).replace(tzinfo=None)


def local_today(now: datetime, tz: str) -> date:
    """The calendar date in *tz* at the naive UTC moment *now*."""
    return to_local(now, tz).date()


@dataclass(frozen=True)
class TimeRange:
    """``[start, end)`` in naive UTC, both on a whole hour."""

    start: datetime
    end: datetime

    @classmethod
    def of(cls, start: datetime, end: datetime) -> "TimeRange":
        """The smallest range of whole hours that covers ``[start, end)``."""
        return cls(floor_hour(start), max(ceil_hour(end), floor_hour(start)))

    @classmethod
    def local_days(cls, first: date, last: date, tz: str) -> "TimeRange":
        """Local calendar days *first*..*last* (inclusive) in *tz*, as UTC hours."""
        if last < first:
            raise ValueError("the end date is before the start date")
        return cls.of(local_midnight_utc(first, tz), local_midnight_utc(last + DAY, tz))

    @property
    def hours(self) -> int:
        return int((self.end - self.start) / HOUR)

    def split(self) -> tuple[tuple[datetime, datetime] | None, list[tuple[datetime, datetime]]]:
        """(whole UTC days ``[d0, d1)`` inside the range or None, hour ranges of the partial days at the edges)."""
        d0, d1 = ceil_day(self.start), floor_day(self.end)
        if d0 >= d1:
            return None, ([(self.start, self.end)] if self.start < self.end else [])
        edges = [(a, b) for a, b in ((self.start, d0), (d1, self.end)) if a < b]
        return (d0, d1), edges


@dataclass(frozen=True)
class DatePeriod:
    """A range of local calendar days chosen on a page, with its UTC range."""

    first: date
    last: date
    tz: str

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ValueError("the end date is before the start date")
        if not (MIN_DATE <= self.first and self.last <= MAX_DATE):
            raise ValueError(f"dates must lie between {MIN_DATE} and {MAX_DATE}")
        if self.days > MAX_DAYS:
            raise ValueError(f"the range is {self.days} days long; at most {MAX_DAYS} days can be shown")

    @classmethod
    def last_days(cls, days: int, now: datetime, tz: str) -> "DatePeriod":
        """The *days* local days ending today."""
        today = local_today(now, tz)
        return cls(today - timedelta(days=days - 1), today, tz)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def utc(self) -> TimeRange:
        return TimeRange.local_days(self.first, self.last, self.tz)

    def dates(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range(self.days)]
