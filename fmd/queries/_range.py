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


#: Ranges up to this many hours are drawn per hour, longer ones per local day: three days, plus the current hour
#: a rolling range includes (``last=72h`` spans 73 hours) and the extra hour of a day when clocks go back.
HOURLY_MAX_HOURS = 74


@dataclass(frozen=True)
class DatePeriod:
    """A range chosen on a page, with its UTC range: local calendar days (*first*..*last*, inclusive) or, when
    *rolling* is set ("6h", "7d"), the last hours up to now, from the whole hour at or before ``now - N hours``
    to the end of the current hour (the rollups cannot be cut finer than an hour).

    *first*/*last* are the local dates a range touches either way (file names, date inputs, day buckets).
    """

    first: date
    last: date
    tz: str
    rolling: str | None = None
    span: TimeRange | None = None  #: the UTC range of a rolling period (None: the local days')

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ValueError("the end date is before the start date")
        if not (MIN_DATE <= self.first and self.last <= MAX_DATE):
            raise ValueError(f"dates must lie between {MIN_DATE} and {MAX_DATE}")
        # A rolling range is measured in hours: last=400d spans 9,600 hours and the current one, which touch 401
        # (or, with a clock change, 402) local dates.
        if self.span is not None and self.span.hours > MAX_DAYS * 24 + 1:
            raise ValueError(f"the range is {self.span.hours} hours long; at most {MAX_DAYS * 24} hours (and the "
                             f"current one) can be shown")
        if self.span is None and self.days > MAX_DAYS:
            raise ValueError(f"the range is {self.days} days long; at most {MAX_DAYS} days can be shown")

    @classmethod
    def last_days(cls, days: int, now: datetime, tz: str) -> "DatePeriod":
        """The *days* local days ending today."""
        today = local_today(now, tz)
        return cls(today - timedelta(days=days - 1), today, tz)

    @classmethod
    def last_hours(cls, hours: int, now: datetime, tz: str, token: str | None = None) -> "DatePeriod":
        """The rolling range covering at least the last *hours* hours: whole UTC hours up to the current one."""
        if hours < 1:
            raise ValueError("a rolling range lasts at least one hour")
        start = floor_hour(now - hours * HOUR)
        end = floor_hour(now) + HOUR
        return cls.of_span(TimeRange(start, end), tz, token or rolling_token(hours))

    @classmethod
    def of_span(cls, span: TimeRange, tz: str, rolling: str | None = None) -> "DatePeriod":
        """The period of a UTC range of whole hours (its local dates from its first and last hour)."""
        first = to_local(span.start, tz).date()
        last = to_local(max(span.end - HOUR, span.start), tz).date()
        return cls(first, last, tz, rolling, span)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def utc(self) -> TimeRange:
        return self.span if self.span is not None else TimeRange.local_days(self.first, self.last, self.tz)

    @property
    def hourly(self) -> bool:
        """Whether charts of this range have one bucket per hour (else one per local day)."""
        return self.utc.hours <= HOURLY_MAX_HOURS

    def dates(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range(self.days)]

    def day_edges(self) -> list[datetime]:
        """UTC hour at which each local day starts, clamped to the range, plus the range's end."""
        rng = self.utc
        starts = [min(max(floor_hour(local_midnight_utc(day, self.tz)), rng.start), rng.end) for day in self.dates()]
        starts[0] = rng.start
        return starts + [rng.end]

    def hour_edges(self) -> list[datetime]:
        rng = self.utc
        return [rng.start + i * HOUR for i in range(rng.hours + 1)]

    def edges(self) -> list[datetime]:
        """UTC bucket edges of this range's charts: every hour if ``hourly``, else every local midnight."""
        return self.hour_edges() if self.hourly else self.day_edges()

    def bucket_labels(self) -> list[str]:
        """A local label per bucket of ``edges()``: "YYYY-MM-DD HH:MM" per hour (the local time the UTC hour starts
        at: "14:00", or "14:30" in India), "YYYY-MM-DD" per day."""
        if self.hourly:
            return [to_local(edge, self.tz).strftime("%Y-%m-%d %H:%M") for edge in self.hour_edges()[:-1]]
        return [day.isoformat() for day in self.dates()]

    def previous(self) -> "DatePeriod":
        """The period of the same length that ends where this one starts (trends compare against it)."""
        if self.span is None:
            return DatePeriod(self.first - timedelta(days=self.days), self.first - timedelta(days=1), self.tz)
        length = self.span.end - self.span.start
        return DatePeriod.of_span(TimeRange(self.span.start - length, self.span.start), self.tz)

    def since_label(self) -> str:
        """"since 14:00" (today) or "since 2026-11-20 14:00" for a rolling range; "" for calendar days."""
        if self.rolling is None:
            return ""
        start = to_local(self.utc.start, self.tz)
        shown = start.strftime("%H:%M") if start.date() == self.last else start.strftime("%Y-%m-%d %H:%M")
        return f"since {shown}"

    def describe(self) -> str:
        """How the range reads in a sentence: "the last 6 hours (since 14:00)" or "2026-11-20 to 2026-11-27"."""
        if self.rolling is not None:
            return f"the last {rolling_words(self.rolling)} ({self.since_label()})"
        return str(self.first) if self.first == self.last else f"{self.first} to {self.last}"


def rolling_token(hours: int) -> str:
    """6 -> "6h", 168 -> "7d": the URL form of a rolling range."""
    return f"{hours // 24}d" if hours % 24 == 0 and hours >= 48 else f"{hours}h"


def rolling_words(token: str) -> str:
    """"6h" -> "6 hours", "1h" -> "hour", "7d" -> "7 days"."""
    n, unit = int(token[:-1]), {"h": "hour", "d": "day"}[token[-1]]
    return unit if n == 1 else f"{n} {unit}s"
