"""Query arguments and form fields of the overview and chart pages, parsed and checked.

Every bad value ends in ``abort(400, message)`` naming the field and what it accepts: never a 500, never a
silent default for something the user did type. Missing values get their documented default.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Mapping
from urllib.parse import urlencode

from flask import abort, url_for

from ..queries._range import MAX_DATE, MAX_DAYS, MIN_DATE, DatePeriod, rolling_token
from ..queries.overview import SORT_KEYS
from ..state import LEVELS

#: Longest accepted name filter (an endpoint name is at most 250 characters).
MAX_FILTER = 250
#: Days shown when the page names no range.
DEFAULT_DAYS = 7
#: The quick choices next to the date inputs: rolling ranges, in hours.
QUICK_HOURS = (1, 6, 24, 7 * 24, 30 * 24, 90 * 24)
#: Auto-refresh choices in seconds (0: off, the default).
REFRESH_SECONDS = (0, 30, 60, 300)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DAYS = re.compile(r"[0-9]{1,6}")
_LAST = re.compile(r"([0-9]{1,5})([hd])")
#: Columns whose natural first click sorts the biggest first.
_DESCENDING_FIRST = {"today", "week", "total", "requests", "median", "p95", "change", "errors", "last", "exceptions"}


def _one(args: Mapping[str, str], name: str) -> str | None:
    value = args.get(name)
    return None if value is None else str(value)


def parse_date(value: str, field: str) -> date:
    """A YYYY-MM-DD date, or a 400 naming *field*."""
    if not _DATE.fullmatch(value):
        abort(400, f"{field} must be a date written YYYY-MM-DD, not {value[:40]!r}.")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        abort(400, f"{field} is not a real date: {value!r}.")
    if not MIN_DATE <= day <= MAX_DATE:
        abort(400, f"{field} must lie between {MIN_DATE} and {MAX_DATE}, not {value}.")
    return day


def parse_last(value: str, now: datetime, tz: str) -> DatePeriod:
    """A rolling range: ``<N>h`` or ``<N>d`` (the last N hours or days, in whole hours up to now)."""
    match = _LAST.fullmatch(value.strip())
    limit = {"h": MAX_DAYS * 24, "d": MAX_DAYS}
    if not match or not 1 <= int(match[1]) <= limit[match[2]]:
        abort(400, f"last must be a number of hours or days such as 6h or 7d (at most {MAX_DAYS * 24}h or "
                   f"{MAX_DAYS}d), not {value[:40]!r}.")
    hours = int(match[1]) * (24 if match[2] == "d" else 1)
    try:
        return DatePeriod.last_hours(hours, now, tz, rolling_token(hours))
    except ValueError as exc:
        abort(400, f"last: {exc}.")


def parse_period(args: Mapping[str, str], now: datetime, tz: str) -> DatePeriod:
    """``start``/``end`` (local dates, inclusive), ``days`` (ending today) or ``last`` (a rolling range such as
    ``6h`` or ``7d``); default the last 7 days. ``last`` wins over ``days``, and over ``start``/``end`` unless
    they name other dates than the rolling range covers (a range form keeps ``last`` in a hidden field, so
    submitting it for another filter keeps the rolling range; editing its dates picks those days)."""
    start, end, days, last = _one(args, "start"), _one(args, "end"), _one(args, "days"), _one(args, "last")
    if last is not None and last.strip() != "":
        rolling = parse_last(last, now, tz)
        if (start in (None, "", rolling.first.isoformat())) and (end in (None, "", rolling.last.isoformat())):
            return rolling
    if days is not None and (start is None and end is None):
        if not _DAYS.fullmatch(days) or not 1 <= int(days) <= MAX_DAYS:
            abort(400, f"days must be a whole number from 1 to {MAX_DAYS}, not {days[:40]!r}.")
        return DatePeriod.last_days(int(days), now, tz)
    default = DatePeriod.last_days(DEFAULT_DAYS, now, tz)
    first = parse_date(start, "start") if start else None
    last = parse_date(end, "end") if end else None
    if first is None and last is None:
        return default
    if last is None:  # only a start: up to today (or that one day, when it lies ahead)
        last = max(default.last, first)  # type: ignore[type-var]
    if first is None:  # only an end: the default number of days ending there
        first = max(last - (default.last - default.first), MIN_DATE)
    try:
        return DatePeriod(first, last, tz)
    except ValueError as exc:
        abort(400, f"{exc}.")


def redundant_dates(args: Mapping[str, str], now: datetime, tz: str) -> bool:
    """Whether *args* name a rolling range (``last``) with ``start``/``end`` it wins over: the URL of a range form
    submitted without JavaScript, whose dates would pin the view to those days once they no longer match."""
    last = _one(args, "last")
    if not last or (_one(args, "start") is None and _one(args, "end") is None):
        return False
    return parse_period(args, now, tz).rolling is not None


def period_args(period: DatePeriod) -> dict[str, str]:
    """The URL arguments that reproduce *period*: ``last`` for a rolling range, else ``start`` and ``end``."""
    if period.rolling is not None:
        return {"last": period.rolling}
    return {"start": period.first.isoformat(), "end": period.last.isoformat()}


def rolling_choices() -> list[tuple[str, str]]:
    """(label, ``last`` value) of the rolling quick choices: ("1 h", "1h") ... ("90 d", "90d")."""
    return [(f"{token[:-1]} {token[-1]}", token) for token in map(rolling_token, QUICK_HOURS)]


def quick_ranges(view: str, **url_args: object) -> list[tuple[str, str]]:
    """(label, URL) of the rolling quick choices for *view* with *url_args* kept (the range's own replaced)."""
    kept = {k: v for k, v in url_args.items() if k not in ("start", "end", "days", "last")}
    return [(label, url_for(view, last=token, **kept)) for label, token in rolling_choices()]


def refresh_choices(view: str, **url_args: object) -> list[tuple[str, str, int]]:
    """(label, URL, seconds) of the auto-refresh choices for *view* with *url_args* kept."""
    kept = {k: v for k, v in url_args.items() if k != "refresh"}
    labels = {0: "off", 30: "30 s", 60: "1 min", 300: "5 min"}
    return [(labels.get(s, f"{s} s"), url_for(view, **kept, **({"refresh": s} if s else {})), s)
            for s in REFRESH_SECONDS]


def parse_refresh(args: Mapping[str, str]) -> int:
    """``refresh``: seconds between automatic reloads of a page, one of REFRESH_SECONDS (0 or missing: off)."""
    raw = _one(args, "refresh")
    if raw is None or raw.strip() == "":
        return 0
    if raw.strip() not in {str(s) for s in REFRESH_SECONDS}:
        abort(400, f"refresh must be one of {', '.join(map(str, REFRESH_SECONDS))} (seconds; 0 is off), "
                   f"not {raw[:40]!r}.")
    return int(raw)


@dataclass(frozen=True)
class OverviewArgs:
    """The overview's state, all of it kept in the URL."""

    q: str = ""
    sort: str = "name"
    desc: bool = False

    def query(self, **changes: object) -> dict[str, str]:
        """URL arguments of this state with *changes*, leaving out defaults."""
        values = {"q": self.q, "sort": self.sort, "dir": "desc" if self.desc else "asc", **changes}
        return {k: str(v) for k, v in values.items()
                if v not in ("", None) and not (k == "sort" and v == "name") and not (k == "dir" and v == "asc")}

    def url_query(self, **changes: object) -> str:
        return urlencode(self.query(**changes))

    def sort_link(self, key: str) -> dict[str, str]:
        """Arguments that sort by *key*: a click on the current column flips the direction."""
        if key == self.sort:
            return self.query(sort=key, dir="asc" if self.desc else "desc")
        return self.query(sort=key, dir="desc" if key in _DESCENDING_FIRST else "asc")


def parse_overview(args: Mapping[str, str]) -> OverviewArgs:
    """``q`` (name contains, case-insensitive), ``sort`` (a column), ``dir`` (asc or desc)."""
    q = (_one(args, "q") or "").strip()
    if len(q) > MAX_FILTER:
        abort(400, f"q (the name filter) is {len(q)} characters long; at most {MAX_FILTER} are accepted.")
    sort = _one(args, "sort") or "name"
    if sort not in SORT_KEYS:
        abort(400, f"sort must be one of {', '.join(SORT_KEYS)}, not {sort[:40]!r}.")
    direction = _one(args, "dir") or "asc"
    if direction not in ("asc", "desc"):
        abort(400, f"dir must be asc or desc, not {direction[:40]!r}.")
    return OverviewArgs(q, sort, direction == "desc")


def parse_level(form: Mapping[str, str]) -> int:
    """The monitoring level field of a form: 0, 1, 2 or 3."""
    raw = _one(form, "level")
    if raw is None or raw.strip() == "":
        abort(400, "level is missing: choose a monitoring level from 0 to 3.")
    raw = raw.strip()
    if raw not in {str(level) for level in LEVELS}:
        abort(400, f"level must be one of {', '.join(map(str, LEVELS))}, not {raw[:40]!r}.")
    return int(raw)
