"""One endpoint's page: header figures and the rows behind each tab. Rollups only, never raw request rows.

Every function takes an endpoint id and a ``TimeRange`` (``[start, end)`` naive UTC on whole hours) and returns
plain rows. Durations are in milliseconds (``*_ms`` keys, and the box-plot keys p5/q1/median/q3/p95 shared
with ``fmd.queries.app.durations_by_endpoint``). What each reads:

* ``rollup_hour`` (counts per hour, version, status): header counts, hourly load, status codes, versions;
* ``histogram_day`` + ``histogram_hour`` (see ``_histograms``): medians, p95 and per-version boxes, exact to
  the hour;
* ``rollup_group_day``, ``histogram_group_day``, ``rollup_ip_day``: per-user and per-IP views. These are daily,
  so a range is read as whole UTC days: those whose noon lies in the range (``day_span``); a range that holds
  no noon reads the days it touches. For a range of local days this is the same number of days, shifted by
  at most the zone's offset.

Users and IPs are many: the busiest *top* keep their own row and the rest are summed into one "other" row,
in SQL, so a page reads a bounded number of rows whatever the traffic. The empty group_by (no user known)
is shown as NO_VALUE.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Iterable, Sequence

from sqlalchemy import Connection, Table, case, func, select

from ..store.models import Tables
from ._histograms import Histogram, by_first, histograms, merge, percentiles
from ._counters import counts
from ._range import HOUR, DatePeriod, TimeRange, ceil_day, floor_day, to_local

#: Box-plot quantiles (whisker, box, median, box, whisker) and the keys they are returned under.
BOX_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
BOX_KEYS = ("p5", "q1", "median", "q3", "p95")
#: Users or IPs shown by name; the rest become one "other" row.
TOP = 10
#: Versions shown by name (newest by first request in the range); older ones are summed.
TOP_VERSIONS = 12
OLDER_VERSIONS = "older versions"
#: How the empty group_by / IP is shown.
NO_VALUE = "(none)"
#: The "other" group's key (no stored value is None: the columns are NOT NULL).
_OTHER_KEY = None


def day_span(rng: TimeRange) -> tuple[datetime, datetime]:
    """The UTC days ``[d0, d1)`` that stand for *rng* in the daily rollups (see the module docstring)."""
    d0 = ceil_day(rng.start - timedelta(hours=12))  # the first day whose noon is >= start
    d1 = ceil_day(rng.end - timedelta(hours=12))  # the first day whose noon is >= end
    if d0 >= d1 and rng.start < rng.end:
        return floor_day(rng.start), ceil_day(rng.end)
    return d0, d1


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000


def _box(hist: Histogram | None) -> dict | None:
    qs = percentiles(hist, BOX_QUANTILES)
    return None if qs is None else dict(zip(BOX_KEYS, (q * 1000 for q in qs)))


# ------------------------------------------------------------------------------------------------- header

def header(conn: Connection, t: Tables, endpoint_id: int, rng: TimeRange) -> dict | None:
    """The page header: name, level, hits, mean/median/p95 (ms), 5xx share, first/last request, versions.

    first/last request are all-time (the endpoint row); the rest is over *rng*. None for an unknown id.
    """
    e = t.endpoint
    row = conn.execute(select(e.c.id, e.c.name, e.c.monitor_level, e.c.first_requested, e.c.last_requested)
                       .where(e.c.id == endpoint_id)).first()
    if row is None:
        return None
    versions = _version_stats(conn, t, endpoint_id, rng)
    hits = sum(v["hits"] for v in versions)
    errors = sum(v["errors"] for v in versions)
    total = sum(v["duration_sum"] for v in versions)
    qs = percentiles(merge(list(by_first(histograms(conn, t, rng, [endpoint_id])).values())), (0.5, 0.95))
    return {"id": row[0], "name": row[1], "level": row[2], "first_request": row[3], "last_request": row[4],
            "hits": hits, "errors": errors, "error_rate": errors / hits if hits else None,
            "mean_ms": total / hits * 1000 if hits else None,
            "median_ms": _ms(qs[0]) if qs else None, "p95_ms": _ms(qs[1]) if qs else None,
            "versions": [v["version"] for v in versions]}


def _version_stats(conn: Connection, t: Tables, endpoint_id: int, rng: TimeRange) -> list[dict]:
    """Per version in *rng*: hits, 5xx, duration sum, first and last hour; oldest first."""
    r = t.rollup_hour
    n = r.c["count"]
    stmt = (select(r.c.version, func.sum(n), func.sum(case((r.c.status_code >= 500, n), else_=0)),
                   func.sum(r.c.duration_sum), func.min(r.c.hour), func.max(r.c.hour))
            .where(r.c.endpoint_id == endpoint_id, r.c.hour >= rng.start, r.c.hour < rng.end)
            .group_by(r.c.version))
    rows = [{"version": v, "hits": int(h or 0), "errors": int(x or 0), "duration_sum": float(d or 0),
             "first_seen": lo, "last_seen": hi + HOUR}
            for v, h, x, d, lo, hi in conn.execute(stmt) if h]
    rows.sort(key=lambda row: (row["first_seen"], row["version"]))
    return rows


def _version_labels(versions: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """version -> shown label (the newest TOP_VERSIONS by name, older ones summed), and the label order."""
    shown = list(versions[-TOP_VERSIONS:])
    label = {v: v for v in shown}
    label.update({v: OLDER_VERSIONS for v in versions[:-TOP_VERSIONS]})
    return label, ([OLDER_VERSIONS] if len(versions) > TOP_VERSIONS else []) + shown


# ------------------------------------------------------------------------------------------------- load

def hits_by_hour_of_day(conn: Connection, t: Tables, endpoint_id: int, rng: TimeRange, tz: str) -> list[dict]:
    """Heatmap rows: every local (day, hour) the range covers in *tz*: {day: 'YYYY-MM-DD', hour: 0..23, hits}."""
    r = t.rollup_hour
    stmt = (select(r.c.hour, func.sum(r.c["count"]))
            .where(r.c.endpoint_id == endpoint_id, r.c.hour >= rng.start, r.c.hour < rng.end).group_by(r.c.hour))
    cells: dict[tuple[str, int], int] = {}
    moment = rng.start
    while moment < rng.end:  # a DST change makes a local hour appear twice (summed) or not at all
        local = to_local(moment, tz)
        cells[(local.date().isoformat(), local.hour)] = 0
        moment += HOUR
    for hour, hits in conn.execute(stmt):
        local = to_local(hour, tz)
        key = (local.date().isoformat(), local.hour)
        cells[key] = cells.get(key, 0) + int(hits)
    return [{"day": day, "hour": hour, "hits": hits} for (day, hour), hits in sorted(cells.items())]


# ------------------------------------------------------------------------------------------------- users / IPs

def _top_values(conn: Connection, table: Table, column: str, endpoint_id: int, span: tuple[datetime, datetime],
                top: int) -> tuple[list[str], int]:
    """The *top* values of *column* by hits in *span* (busiest first, ties by value) and how many others."""
    col = table.c[column]
    stmt = (select(col, func.sum(table.c["count"])).where(table.c.endpoint_id == endpoint_id,
                                                           table.c.day >= span[0], table.c.day < span[1])
            .group_by(col))
    return _rank(((v, int(n)) for v, n in conn.execute(stmt) if n), top)


def _rank(hits: Iterable[tuple[str, int]], top: int) -> tuple[list[str], int]:
    ordered = sorted((-n, v) for v, n in hits)
    return [v for _, v in ordered[:top]], max(len(ordered) - top, 0)


def _display(value: str | None, others: int, noun: str) -> str:
    if value is _OTHER_KEY:
        return f"other ({others} {noun}{'s' if others != 1 else ''})"
    return value if value != "" else NO_VALUE


def _by_version(conn: Connection, table: Table, column: str, key: str, noun: str, endpoint_id: int,
                rng: TimeRange, top: int) -> list[dict]:
    # One plain GROUP BY (value, version), top N in Python: measured at 1M requests (400 IPs), 4 ms where
    # a second pass grouping by a CASE(top) expression took 28 ms. The rows returned are values x versions.
    span = day_span(rng)
    col = table.c[column]
    stmt = (select(col, table.c.version, func.sum(table.c["count"]), func.sum(table.c.duration_sum),
                   func.min(table.c.day))
            .where(table.c.endpoint_id == endpoint_id, table.c.day >= span[0], table.c.day < span[1])
            .group_by(col, table.c.version))
    cells: list[tuple[str, str, int, float]] = []
    totals: dict[str, int] = defaultdict(int)
    first_day: dict[str, datetime] = {}
    for value, version, n, d, day in conn.execute(stmt):
        if not n:
            continue
        cells.append((value, version, int(n), float(d or 0)))
        totals[value] += int(n)
        first_day[version] = min(first_day.get(version, day), day)
    if not cells:
        return []
    names, others = _rank(totals.items(), top)
    shown = set(names)
    label, order = _version_labels(sorted(first_day, key=lambda v: (first_day[v], v)))
    merged: dict[tuple[str | None, str], list] = defaultdict(lambda: [0, 0.0])
    for value, version, n, d in cells:
        acc = merged[(value if value in shown else _OTHER_KEY, label[version])]
        acc[0] += n
        acc[1] += d
    rank = {v: i for i, v in enumerate(names + [_OTHER_KEY])}
    position = {v: i for i, v in enumerate(order)}
    keyed = sorted(merged.items(), key=lambda item: (rank[item[0][0]], position[item[0][1]]))
    return [{key: _display(value, others, noun), "other": value is _OTHER_KEY, "version": version,
             "hits": n, "mean_ms": d / n * 1000, "rank": rank[value], "order": position[version]}
            for (value, version), (n, d) in keyed]


def users_by_version(conn: Connection, t: Tables, endpoint_id: int, rng: TimeRange, top: int = TOP) -> list[dict]:
    """Circle plot rows: {user, other, version, hits, mean_ms, rank, order} for the *top* users and "other"."""
    return _by_version(conn, t.rollup_group_day, "group_by", "user", "user", endpoint_id, rng, top)


def ips_by_version(conn: Connection, t: Tables, endpoint_id: int, rng: TimeRange, top: int = TOP) -> list[dict]:
    """Circle plot rows: {ip, other, version, hits, mean_ms, rank, order} for the *top* IPs and "other"."""
    return _by_version(conn, t.rollup_ip_day, "ip", "ip", "IP", endpoint_id, rng, top)


# ------------------------------------------------------------------------------------------------- distributions

def durations_by_version(conn: Connection, t: Tables, endpoint_id: int, rng: TimeRange) -> list[dict]:
    """Box rows per version, oldest first: {version, hits, p5, q1, median, q3, p95 (ms), order}."""
    versions = [v["version"] for v in _version_stats(conn, t, endpoint_id, rng)]
    if not versions:
        return []
    label, order = _version_labels(versions)
    hists = by_first(histograms(conn, t, rng, [endpoint_id], by=("version",)))
    grouped: dict[str, list[Histogram]] = defaultdict(list)
    for version, hist in hists.items():
        if version in label:
            grouped[label[version]].append(hist)
    rows = []
    for position, name in enumerate(order):
        hist = merge(grouped.get(name, []))
        box = _box(hist)
        if box is not None:
            rows.append({"version": name, "hits": sum(hist.values()), **box, "order": position})
    return rows


def durations_by_user(conn: Connection, t: Tables, endpoint_id: int, rng: TimeRange, top: int = TOP) -> list[dict]:
    """Box rows per user (group_by), busiest first, "other" last: {user, other, hits, p5, q1, median, q3, p95}."""
    span = day_span(rng)
    names, others = _top_values(conn, t.rollup_group_day, "group_by", endpoint_id, span, top)
    if not names:
        return []
    h = t.histogram_group_day
    # Days listed one by one, not as a range: the primary key (endpoint, day, group_by, bucket) is then sought
    # per (day, user) and only the top users' rows are read. Measured at 1M requests (41 users, 30 days): 10 ms
    # where the range, which reads every user's rows and filters, took 16 ms.
    days = [span[0] + timedelta(days=i) for i in range((span[1] - span[0]).days)]
    stmt = (select(h.c.group_by, h.c.bucket, func.sum(h.c["count"]))
            .where(h.c.endpoint_id == endpoint_id, h.c.day.in_(days), h.c.group_by.in_(names))
            .group_by(h.c.group_by, h.c.bucket))
    hists: dict[str | None, Histogram] = defaultdict(dict)
    for value, bucket, n in conn.execute(stmt):
        hists[value][int(bucket)] = int(n)
    if others:
        # "other" = the endpoint's whole histogram (histogram_day, the same days) minus the top users': both
        # are folded from the same requests. Measured at 1M requests: 18 ms, where grouping every user's
        # rows by a CASE(top) expression took 146 ms.
        rest = merge(list(by_first(histograms(conn, t, TimeRange(*span), [endpoint_id])).values()))
        for value in names:
            for bucket, n in hists.get(value, {}).items():
                rest[bucket] = rest.get(bucket, 0) - n
        hists[_OTHER_KEY] = {b: n for b, n in rest.items() if n > 0}
    rows = []
    for rank, value in enumerate(names + [_OTHER_KEY]):
        box = _box(hists.get(value))
        if box is not None:
            rows.append({"user": _display(value, others, "user"), "other": value is _OTHER_KEY,
                         "hits": sum(hists[value].values()), **box, "rank": rank})
    return rows


# ------------------------------------------------------------------------------------------------- status codes

def status_by_bucket(conn: Connection, t: Tables, endpoint_id: int, period: DatePeriod) -> list[dict]:
    """Status codes per bucket of *period* (an hour up to 72 hours, else a local day; ``DatePeriod.edges``):
    {time: the bucket's local label, status (str), hits}, by bucket and status. Reads daily rollups where whole
    UTC days allow it (``_counters``)."""
    labels = period.bucket_labels()
    cells = counts(conn, t, period.edges(), lambda r: [r.c.status_code], lambda r: [r.c.endpoint_id == endpoint_id])
    return [{"time": labels[b], "status": str(s), "hits": n} for (b, s), n in sorted(cells.items())]


def status_table(conn: Connection, t: Tables, endpoint_id: int, rng: TimeRange) -> list[dict]:
    """Every status code answered in *rng*: {status, hits, share}, by status code."""
    r = t.rollup_hour
    stmt = (select(r.c.status_code, func.sum(r.c["count"]))
            .where(r.c.endpoint_id == endpoint_id, r.c.hour >= rng.start, r.c.hour < rng.end)
            .group_by(r.c.status_code))
    counts = sorted((int(s), int(n)) for s, n in conn.execute(stmt) if n)
    total = sum(n for _, n in counts)
    return [{"status": s, "hits": n, "share": n / total} for s, n in counts]


# ------------------------------------------------------------------------------------------------- versions

def versions_table(conn: Connection, t: Tables, endpoint_id: int, rng: TimeRange) -> list[dict]:
    """Every version in *rng*, oldest first: {version, first_seen, last_seen (UTC hours), hits, error_rate,
    mean_ms, median_ms, p95_ms, median_change (relative to the previous version; None for the first)}."""
    stats = _version_stats(conn, t, endpoint_id, rng)
    if not stats:
        return []
    hists = by_first(histograms(conn, t, rng, [endpoint_id], by=("version",)))
    rows: list[dict] = []
    previous: float | None = None
    for v in stats:
        qs = percentiles(hists.get(v["version"]), (0.5, 0.95))
        median = _ms(qs[0]) if qs else None
        change = (median - previous) / previous if median is not None and previous else None
        rows.append({"version": v["version"], "first_seen": v["first_seen"], "last_seen": v["last_seen"],
                     "hits": v["hits"], "error_rate": v["errors"] / v["hits"],
                     "mean_ms": v["duration_sum"] / v["hits"] * 1000, "median_ms": median,
                     "p95_ms": _ms(qs[1]) if qs else None, "median_change": change})
        if median is not None:
            previous = median
    return rows


__all__ = ["header", "hits_by_hour_of_day", "users_by_version", "ips_by_version", "durations_by_version",
           "durations_by_user", "status_by_bucket", "status_table", "versions_table", "day_span"]
