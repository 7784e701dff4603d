"""Custom graph schedules: checked when ``add_graph`` is called, and the grid of ticks they stand for.

The contract: a schedule names the same instants in every process and on every host, whenever it started,
so that a tick is a key the store can hand to exactly one of them (``fmd.store.custom_graphs.claim``).

- ``"interval"`` (plural fields ``weeks``, ``days``, ``hours``, ``minutes``, ``seconds``): the ticks are
  ``EPOCH + k * period`` for whole k, counted from 1970-01-01 UTC, never from a worker's start; so
  ``seconds=10`` ticks at :00, :10, :20... of every minute in every worker. The period is at least a second.
- ``"cron"`` (singular fields ``year``, ``month``, ``day``, ``week``, ``day_of_week``, ``hour``, ``minute``,
  ``second``, with APScheduler's cron expressions): the instants the fields name, read in ``timezone`` (a
  zoneinfo name; default the dashboard's TIMEZONE). Fields smaller than the smallest one given default to
  their first value, as in APScheduler: ``hour=0`` fires once a day at 00:00:00.

Options that would make processes disagree on the instants (``jitter``, ``start_date``) are refused. Every
problem raises ``ConfigError`` (a ValueError) naming the field. The grid functions are pure: they take the
moment to compute from, so tests drive them with any clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..options import ConfigError

#: Interval schedules count their ticks from here.
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
INTERVAL_FIELDS = ("weeks", "days", "hours", "minutes", "seconds")
CRON_FIELDS = ("year", "month", "day", "week", "day_of_week", "hour", "minute", "second")
_SECONDS = {"weeks": 604800, "days": 86400, "hours": 3600, "minutes": 60, "seconds": 1}
#: A field of the other trigger, by its name: the message suggests the right spelling.
_SINGULAR = {"week": "weeks", "day": "days", "hour": "hours", "minute": "minutes", "second": "seconds"}
_REFUSED = {"jitter": "jitter would make workers disagree on the instant of a tick",
            "start_date": "ticks are counted from a fixed epoch so that every worker agrees on them",
            "end_date": "a graph runs as long as the app does"}
#: The shortest interval accepted: a shorter one would mostly measure fmd's own overhead.
MIN_PERIOD_US = 1_000_000
#: The longest interval: its ticks must stay within the dates Python and APScheduler can compute.
MAX_PERIOD_US = 366 * 86_400 * 1_000_000
_MICRO = timedelta(microseconds=1)


@dataclass(frozen=True)
class Schedule:
    """A checked schedule: ``trigger`` is "cron" or "interval", ``fields`` its keyword arguments, sorted."""

    trigger: str
    fields: tuple[tuple[str, Any], ...]
    #: For cron: the zone its fields are read in; None until a bound app's TIMEZONE supplies the default.
    tz: str | None = None

    @property
    def period_us(self) -> int | None:
        """An interval's period in microseconds (None for cron)."""
        if self.trigger != "interval":
            return None
        return sum(round(value * _SECONDS[name] * 1_000_000) for name, value in self.fields)

    def with_default_tz(self, tz: str) -> "Schedule":
        """This schedule with *tz* as its zone unless one was given (intervals have no zone)."""
        if self.trigger != "cron" or self.tz is not None:
            return self
        return Schedule(self.trigger, self.fields, tz)

    def apscheduler_trigger(self) -> Any:
        """The APScheduler trigger that fires on this grid (imports APScheduler)."""
        if self.trigger == "interval":
            from apscheduler.triggers.interval import IntervalTrigger

            return IntervalTrigger(seconds=self.period_us / 1e6, start_date=EPOCH, timezone=timezone.utc)
        from apscheduler.triggers.cron import CronTrigger

        return CronTrigger(**dict(self.fields), timezone=ZoneInfo(self.tz or "UTC"))

    def next_tick(self, after: datetime) -> datetime | None:
        """The first tick strictly after *after* (aware), as an aware UTC datetime; None if there is none."""
        after = _aware(after)
        if self.trigger == "interval":
            period = self.period_us
            elapsed = _micros(after - EPOCH)
            return EPOCH + timedelta(microseconds=(elapsed // period + 1) * period)
        fire = self.apscheduler_trigger().get_next_fire_time(None, after + _MICRO)
        return None if fire is None else fire.astimezone(timezone.utc)

    def latest_tick(self, now: datetime, within: timedelta) -> datetime | None:
        """The last tick at or before *now*, if one lies within *within* before it (aware UTC)."""
        now = _aware(now)
        if self.trigger == "interval":
            period = self.period_us
            tick = EPOCH + timedelta(microseconds=_micros(now - EPOCH) // period * period)
            return tick if now - tick <= within else None
        found = None
        tick = self.next_tick(now - within - _MICRO)
        while tick is not None and tick <= now:
            found = tick
            tick = self.next_tick(tick)
        return found

    def ticks(self, start: datetime, end: datetime, most: int = 100_000) -> list[datetime]:
        """The ticks in ``[start, end)`` (aware UTC), at most *most* of them."""
        out: list[datetime] = []
        tick = self.next_tick(_aware(start) - _MICRO)
        while tick is not None and tick < _aware(end) and len(out) < most:
            out.append(tick)
            tick = self.next_tick(tick)
        return out

    def typical_period(self, now: datetime) -> float:
        """Seconds between ticks: the interval, or for cron the gap between the next two ticks after *now*."""
        if self.trigger == "interval":
            return self.period_us / 1e6
        first = self.next_tick(now)
        second = self.next_tick(first) if first is not None else None
        if first is None or second is None:
            return 86400.0
        return (second - first).total_seconds()

    def describe(self) -> str:
        """Human-readable: "every 10 seconds", "cron: hour=0, minute=30 (Europe/Paris)"."""
        if self.trigger == "interval":
            return "every " + _duration(self.period_us / 1e6)
        parts = ", ".join(f"{name}={value}" for name, value in self.fields)
        return f"cron: {parts} ({self.tz or 'UTC'})"


def parse_schedule(trigger: Any, fields: dict[str, Any]) -> Schedule:
    """Check ``add_graph``'s *trigger* and schedule keywords; ConfigError naming the field otherwise."""
    if trigger not in ("cron", "interval"):
        raise ConfigError(f"add_graph: trigger must be \"cron\" or \"interval\", not {trigger!r}")
    for name in fields:
        if name in _REFUSED:
            raise ConfigError(f"add_graph: {name} is not accepted: {_REFUSED[name]}")
    if trigger == "interval":
        return _interval(fields)
    return _cron(fields)


def _interval(fields: dict[str, Any]) -> Schedule:
    if "timezone" in fields:
        raise ConfigError("add_graph: timezone is for \"cron\" schedules; an interval counts from a fixed "
                          "epoch in every zone")
    for name, value in fields.items():
        if name not in INTERVAL_FIELDS:
            hint = f" (did you mean {_SINGULAR[name]}=...? interval fields are plural)" if name in _SINGULAR else ""
            raise ConfigError(f"add_graph: {name} is not an \"interval\" field{hint}; use "
                              f"{', '.join(INTERVAL_FIELDS)}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ConfigError(f"add_graph: {name} must be a number, not {value!r}")
        if value < 0:
            raise ConfigError(f"add_graph: {name} must not be negative, not {value!r}")
    if not fields:
        raise ConfigError("add_graph: an \"interval\" schedule needs a period, e.g. seconds=10 or minutes=5")
    schedule = Schedule("interval", tuple(sorted(fields.items())))
    if schedule.period_us < MIN_PERIOD_US:
        raise ConfigError(f"add_graph: the interval ({', '.join(f'{k}={v}' for k, v in schedule.fields)}) must "
                          "be at least 1 second")
    if schedule.period_us > MAX_PERIOD_US:
        raise ConfigError(f"add_graph: the interval ({', '.join(f'{k}={v}' for k, v in schedule.fields)}) must "
                          "be at most 366 days (a longer one is a \"cron\" schedule)")
    return schedule


def _cron(fields: dict[str, Any]) -> Schedule:
    fields = dict(fields)
    tz = fields.pop("timezone", None)
    if tz is not None:
        if not isinstance(tz, str):
            raise ConfigError(f"add_graph: timezone must be a zone name such as \"Europe/Paris\", not {tz!r}")
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"add_graph: timezone {tz!r} is not a known time zone") from None
    for name, value in fields.items():
        if name not in CRON_FIELDS:
            plural = {v: k for k, v in _SINGULAR.items()}.get(name)
            hint = f" (did you mean {plural}=...? cron fields are singular)" if plural else ""
            raise ConfigError(f"add_graph: {name} is not a \"cron\" field{hint}; use {', '.join(CRON_FIELDS)} "
                              "or timezone")
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise ConfigError(f"add_graph: {name} must be a whole number or a cron expression string, "
                              f"not {value!r}")
    if not fields:
        raise ConfigError("add_graph: a \"cron\" schedule needs at least one field, e.g. second=0 or hour=0")
    from apscheduler.triggers.cron import CronTrigger

    for name, value in fields.items():  # one at a time, so the message names the field at fault
        try:
            CronTrigger(**{name: value}, timezone=timezone.utc)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"add_graph: {name}={value!r} is not a valid cron value: {exc}") from None
    schedule = Schedule("cron", tuple(sorted(fields.items(), key=lambda kv: CRON_FIELDS.index(kv[0]))), tz)
    if schedule.next_tick(datetime.now(timezone.utc)) is None:
        raise ConfigError(f"add_graph: the cron schedule {schedule.describe()} never fires again")
    return schedule


def _aware(moment: datetime) -> datetime:
    """Naive datetimes are read as UTC (as fmd stores them)."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def _micros(delta: timedelta) -> int:
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def _duration(seconds: float) -> str:
    for unit, size in (("week", 604800), ("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if n != 1 else ''}" if n != 1 else unit
    if seconds == int(seconds):
        n = int(seconds)
        return "second" if n == 1 else f"{n} seconds"
    return f"{seconds:g} seconds"
