"""The data of a performance report: per endpoint, a duration histogram, a request count and an error count
for each of two periods or two versions (see ``fmd.reports`` for the statistics).

Everything is read from the rollups, never from raw rows: counts from ``rollup_day``/``rollup_hour``
(exact, never pruned, see ``_counters``), durations from ``histogram_day`` plus ``histogram_hour`` at a
period's partial edge days (see ``_histograms``). A version is read from the daily rows alone, between the
first and the last day it was seen: a version has no edges, so no hourly row is needed.

Periods are ``[start, end)`` in naive UTC on whole hours (the rollups' grain): a time inside an hour widens
the period to that whole hour. Text periods are ``START..END``: dates (``2024-03-04``, END inclusive: the
whole day) or ISO times (``2024-03-04T10:00``, END exclusive), read in the given time zone unless they carry
an offset (``Z``, ``+02:00``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, func, select

from ..reports import Params, Report, Side, compare as compare_sides
from ..store.models import Tables
from ._counters import counts
from ._histograms import histograms
from ._range import DAY, HOUR, MAX_DATE, MAX_DAYS, MIN_DATE, TimeRange, ceil_hour, local_midnight_utc, local_today

#: Status codes from this one up are errors.
ERROR_STATUS = 500


@dataclass(frozen=True)
class Comparison:
    """What a report compares: two periods (TimeRange) or two versions (str), baseline first."""

    baseline: TimeRange | str
    candidate: TimeRange | str
    baseline_label: str
    candidate_label: str
    #: Hours of each period that have passed (a period may run into the future): traffic compares per hour.
    baseline_hours: float | None = None
    candidate_hours: float | None = None

    @property
    def by_version(self) -> bool:
        return isinstance(self.baseline, str)


def _elapsed(rng: TimeRange, now: datetime) -> float:
    return max((min(rng.end, now) - rng.start) / HOUR, 0.0)


def periods(baseline: TimeRange, candidate: TimeRange, now: datetime, baseline_label: str = "",
            candidate_label: str = "") -> Comparison:
    """Two periods (labelled by their UTC bounds unless labels are given)."""
    def label(rng: TimeRange) -> str:
        return f"{rng.start:%Y-%m-%d %H:%M} to {rng.end:%Y-%m-%d %H:%M} UTC"

    return Comparison(baseline, candidate, baseline_label or label(baseline), candidate_label or label(candidate),
                      _elapsed(baseline, now), _elapsed(candidate, now))


def versions(baseline: str, candidate: str) -> Comparison:
    if baseline == candidate:
        raise ValueError(f"the baseline and the candidate are the same version ({baseline!r})")
    return Comparison(baseline, candidate, f"version {baseline}", f"version {candidate}")


def last_24_hours(now: datetime) -> Comparison:
    """The last 24 hours (to the end of the current hour) against the 24 hours before."""
    end = ceil_hour(now)
    cand = TimeRange(end - 24 * HOUR, end)
    base = TimeRange(cand.start - 24 * HOUR, cand.start)
    return periods(base, cand, now, "the 24 hours before", "the last 24 hours")


def _so_far(start: datetime, previous: datetime, now: datetime, names: tuple[str, str]) -> Comparison:
    """From *start* to now, against as many hours from *previous* (so both cover the same times of day)."""
    cand = TimeRange(start, max(ceil_hour(now), start + HOUR))
    shift = start - previous
    base = TimeRange(cand.start - shift, cand.end - shift)
    return periods(base, cand, now, *names)


def today(now: datetime, tz: str) -> Comparison:
    """Today so far against the same hours of yesterday (local days in *tz*)."""
    day = local_today(now, tz)
    return _so_far(local_midnight_utc(day, tz), local_midnight_utc(day - DAY, tz), now,
                   ("yesterday, same hours", "today so far"))


def this_week(now: datetime, tz: str) -> Comparison:
    """This week (from Monday) so far against the same part of last week."""
    monday = local_today(now, tz) - timedelta(days=local_today(now, tz).weekday())
    return _so_far(local_midnight_utc(monday, tz), local_midnight_utc(monday - 7 * DAY, tz), now,
                   ("last week, same part", "this week so far"))


def _moment(text: str, tz: str, end: bool) -> datetime:
    """A date or ISO time as naive UTC; a date as an END means the end of that day."""
    text = text.strip()
    if len(text) == 10:
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a date (YYYY-MM-DD) or ISO time (YYYY-MM-DDTHH:MM)") from None
        if not MIN_DATE <= day <= MAX_DATE:
            raise ValueError(f"{text}: dates must lie between {MIN_DATE} and {MAX_DATE}")
        return local_midnight_utc(day + DAY if end else day, tz)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a date (YYYY-MM-DD) or ISO time (YYYY-MM-DDTHH:MM)") from None
    if not MIN_DATE <= moment.date() <= MAX_DATE:
        raise ValueError(f"{text}: times must lie between {MIN_DATE} and {MAX_DATE}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(tz))
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


def parse_range(text: str, tz: str) -> TimeRange:
    """``START..END`` (see the module docstring) as whole UTC hours; ValueError says what is wrong."""
    if text.count("..") != 1:
        raise ValueError(f"a range is written START..END, not {text[:60]!r}")
    first, last = text.split("..")
    if not first.strip() or not last.strip():
        raise ValueError(f"a range needs both a START and an END: {text[:60]!r}")
    return checked_range(_moment(first, tz, False), _moment(last, tz, True))


def parse_bounds(start: str, end: str, tz: str) -> TimeRange:
    """A range from separate START and END texts (dates: END inclusive; times: END exclusive)."""
    return checked_range(_moment(start, tz, False), _moment(end, tz, True))


def checked_range(start: datetime, end: datetime) -> TimeRange:
    if end <= start:
        raise ValueError(f"the range ends ({end:%Y-%m-%d %H:%M} UTC) before it starts ({start:%Y-%m-%d %H:%M} UTC)")
    rng = TimeRange.of(start, end)
    if rng.end - rng.start > MAX_DAYS * DAY:
        raise ValueError(f"a range may be at most {MAX_DAYS} days long")
    return rng


def versions_present(conn: Connection, t: Tables) -> list[dict]:
    """Every recorded version with its requests and first/last day, the most recently first seen first."""
    d = t.rollup_day
    rows = conn.execute(select(d.c.version, func.sum(d.c["count"]), func.min(d.c.day), func.max(d.c.day))
                        .group_by(d.c.version)).all()
    out = [{"version": v, "requests": int(n), "first": first, "last": last} for v, n, first, last in rows]
    out.sort(key=lambda row: (row["first"], row["last"], row["version"]), reverse=True)
    return out


def endpoint_names(conn: Connection, t: Tables) -> dict[int, str]:
    return dict(conn.execute(select(t.endpoint.c.id, t.endpoint.c.name)).all())


def _sides(hists: dict[int, dict[int, int]], totals: dict[tuple[int, int], int]) -> dict[int, Side]:
    requests: dict[int, int] = defaultdict(int)
    errors: dict[int, int] = defaultdict(int)
    for (eid, status), n in totals.items():
        requests[eid] += n
        if status >= ERROR_STATUS:
            errors[eid] += n
    return {eid: Side(hists.get(eid, {}), requests[eid], errors[eid]) for eid in requests if requests[eid] > 0}


def _read_period(conn: Connection, t: Tables, rng: TimeRange, ids: Sequence[int]) -> dict[int, Side]:
    hists = {key[0]: hist for key, hist in histograms(conn, t, rng, ids).items()}
    by = lambda table: (table.c.endpoint_id, table.c.status_code)  # noqa: E731
    totals = {(eid, status): n for (_, eid, status), n in counts(conn, t, [rng.start, rng.end], by).items()}
    return _sides(hists, totals)


def _read_version(conn: Connection, t: Tables, version: str, ids: Sequence[int]) -> dict[int, Side]:
    d, h = t.rollup_day, t.histogram_day
    rows = conn.execute(select(d.c.endpoint_id, d.c.status_code, func.sum(d.c["count"]), func.min(d.c.day),
                               func.max(d.c.day)).where(d.c.version == version)
                        .group_by(d.c.endpoint_id, d.c.status_code)).all()
    if not rows:
        return {}
    first, last = min(r[3] for r in rows), max(r[4] for r in rows)
    totals = {(eid, status): int(n) for eid, status, n, _, _ in rows}
    hists: dict[int, dict[int, int]] = defaultdict(dict)
    # endpoint_id and day lead histogram_day's primary key: a few index range scans, then the version filter.
    stmt = (select(h.c.endpoint_id, h.c.bucket, func.sum(h.c["count"]))
            .where(h.c.endpoint_id.in_(sorted({eid for eid, _ in totals})), h.c.day >= first, h.c.day <= last,
                   h.c.version == version)
            .group_by(h.c.endpoint_id, h.c.bucket))
    for eid, bucket, n in conn.execute(stmt):
        hists[eid][bucket] = int(n)
    return _sides(hists, totals)


def read(conn: Connection, t: Tables, comparison: Comparison) -> tuple[dict[int, Side], dict[int, Side]]:
    """(baseline, candidate): endpoint id -> Side, for endpoints with requests on that side."""
    ids = sorted(endpoint_names(conn, t))
    out = []
    for side in (comparison.baseline, comparison.candidate):
        out.append(_read_version(conn, t, side, ids) if isinstance(side, str) else _read_period(conn, t, side, ids))
    return out[0], out[1]


def report(conn: Connection, t: Tables, comparison: Comparison, params: Params = Params()) -> Report:
    """The report of *comparison*: every endpoint with requests on either side (keys are endpoint ids)."""
    baseline, candidate = read(conn, t, comparison)
    return compare_sides(baseline, candidate, endpoint_names(conn, t), params=params,
                         baseline_hours=comparison.baseline_hours, candidate_hours=comparison.candidate_hours)
