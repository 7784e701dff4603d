"""Application-wide chart data: hourly load, versions, daily load, durations per endpoint, status codes.

Everything is read from the rollups. Charts stay readable with hundreds of endpoints because the busiest
*top* endpoints in the range keep their name and the rest are summed into one "other" series, in SQL where
that saves rows. Counts come from ``_counters``: daily rows for the UTC days inside a local day (TIMEZONE) or
range, hourly rows for the rest, cut into buckets in SQL with a small CASE tree; so 90 days of bars read
about 90 rows per endpoint and series whatever the number of requests or the length of the history.

Bars over time have the range's resolution (``DatePeriod.hourly``): one bucket per hour up to 72 hours, else
one per local day. Their rows name the bucket under the key ``grain(period)`` ("hour" or "day"), holding the
bucket's local label ("2024-03-05 14:00" or "2024-03-05"). Rows that stand for one endpoint carry its
``endpoint_id`` (None for "other"), so a view can link each mark to the endpoint's page.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, case, func, literal_column, select

from ..store.models import Tables
from ._counters import counts, first_hours, interval_index
from ._histograms import by_first, histograms, merge, percentiles
from ._range import HOUR, DatePeriod, to_local

#: Quantiles behind a box: whisker, box, median, box, whisker.
BOX_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
#: Versions shown by name (the newest by first request); older ones are summed.
TOP_VERSIONS = 12
OLDER_VERSIONS = "older versions"
#: The series of requests that matched no route (counted per status in ``unrouted_hour``, no endpoint).
UNROUTED = "no route matched"


def other_label(count: int) -> str:
    """The series name standing for *count* endpoints outside the top."""
    return f"other ({count} endpoint{'s' if count != 1 else ''})"


def day_edges(period: DatePeriod) -> list[datetime]:
    """UTC hour at which each local day of *period* starts (the first clamped to the range's start, so a rolling
    range never counts hours before it), plus the range's end."""
    return period.day_edges()


def grain(period: DatePeriod) -> str:
    """The bucket of *period*'s charts over time, also the rows' key for it: "hour" or "day"."""
    return "hour" if period.hourly else "day"


def hits_by_endpoint(conn: Connection, t: Tables, period: DatePeriod) -> dict[int, int]:
    """endpoint id -> requests in *period*."""
    rng = period.utc
    return {int(e): n for (_, e), n in counts(conn, t, [rng.start, rng.end], lambda r: [r.c.endpoint_id]).items()}


def endpoint_names(conn: Connection, t: Tables) -> dict[int, str]:
    return dict(conn.execute(select(t.endpoint.c.id, t.endpoint.c.name)).all())


def top_endpoints(hits: dict[int, int], top: int) -> list[int]:
    """The *top* busiest endpoint ids (ties by id), busiest first."""
    return [e for e, _ in sorted(hits.items(), key=lambda item: (-item[1], item[0]))[:top]]


def _series(names: dict[int, str], top_ids: list[int], hits: dict[int, int]) -> dict[int, str]:
    """endpoint id -> series name: its own name in the top, the "other" label outside (key -1)."""
    series = {e: names.get(e, f"#{e}") for e in top_ids}
    rest = len([e for e in hits if e not in series])
    if rest:
        series[-1] = other_label(rest)
    return series


def _grouped_endpoint(r, top_ids: list[int], hits: dict[int, int]) -> ColumnElement:  # noqa: ANN001
    """SQL: the endpoint id when in the top, else -1."""
    if not top_ids:
        return literal_column("-1")
    if len(top_ids) == len(hits):  # every endpoint of the range is shown: no per-row IN list (SQLite: ~3x faster)
        return r.c.endpoint_id
    return case((r.c.endpoint_id.in_(top_ids), r.c.endpoint_id), else_=literal_column("-1"))


def hits_by_hour_of_day(conn: Connection, t: Tables, period: DatePeriod) -> list[dict]:
    """Heatmap rows: every local day and hour inside *period*: {day: 'YYYY-MM-DD', hour: 0..23, hits}.

    Only hours inside ``period.utc`` get a cell (a rolling range starts mid-day); [] when none had a request,
    so an empty range shows the empty state, not a grid of zeros.
    """
    r = t.rollup_hour
    rng = period.utc
    stmt = (select(r.c.hour, func.sum(r.c["count"])).where(r.c.hour >= rng.start, r.c.hour < rng.end)
            .group_by(r.c.hour))
    first, last = period.first.isoformat(), period.last.isoformat()
    cells: dict[tuple[str, int], int] = {}
    moment = rng.start
    while moment < rng.end:  # a DST change makes a local hour appear twice (summed) or not at all
        local = to_local(moment, period.tz)
        day = local.date().isoformat()
        if first <= day <= last:  # not the widened hours of a fractional-offset zone's local days
            cells[(day, local.hour)] = 0
        moment += HOUR
    found = False
    for hour, hits in conn.execute(stmt):
        local = to_local(hour, period.tz)
        key = (local.date().isoformat(), local.hour)
        if key in cells and hits:
            cells[key] += int(hits)
            found = True
    if not found:
        return []
    return [{"day": day, "hour": hour, "hits": hits} for (day, hour), hits in sorted(cells.items())]


def hits_by_day(conn: Connection, t: Tables, period: DatePeriod, top: int = 10) -> list[dict]:
    """Stacked load per bucket (hour or local day, see ``grain``): {<grain>, endpoint, endpoint_id, other, hits}
    for the *top* endpoints and "other", non-zero cells only, by bucket and rank."""
    hits = hits_by_endpoint(conn, t, period)
    if not hits:
        return []
    top_ids = top_endpoints(hits, top)
    series = _series(endpoint_names(conn, t), top_ids, hits)
    labels, key = period.bucket_labels(), grain(period)
    cells = counts(conn, t, period.edges(), lambda r: [_grouped_endpoint(r, top_ids, hits)])
    order = {e: i for i, e in enumerate(top_ids + [-1])}
    keyed = sorted(((b, order[int(e)], int(e), n) for (b, e), n in cells.items()), key=lambda k: k[:2])
    return [{key: labels[b], "endpoint": series[e], "endpoint_id": _id(e), "other": e == -1, "hits": n}
            for b, _, e, n in keyed]


def _id(series_key: int) -> int | None:
    """The endpoint id of a series (None for "other")."""
    return None if series_key == -1 else series_key


def hits_by_version(conn: Connection, t: Tables, period: DatePeriod, top: int = 25) -> list[dict]:
    """Per endpoint (top + other) and version: {endpoint, version, hits, share of the endpoint's hits, order}.

    Versions are ordered by their first request in the range (``order``: 0 = oldest shown); beyond
    TOP_VERSIONS the oldest are summed as "older versions".
    """
    hits = hits_by_endpoint(conn, t, period)
    if not hits:
        return []
    top_ids = top_endpoints(hits, top)
    series = _series(endpoint_names(conn, t), top_ids, hits)
    rng = period.utc
    first_seen = first_hours(conn, t, rng.start, rng.end, "version")
    versions = sorted(first_seen, key=lambda v: (first_seen[v], v))
    shown = versions[-TOP_VERSIONS:]
    label = {v: v for v in shown}
    label.update({v: OLDER_VERSIONS for v in versions[:-TOP_VERSIONS]})
    order = ([OLDER_VERSIONS] if len(versions) > TOP_VERSIONS else []) + shown
    found = counts(conn, t, [rng.start, rng.end], lambda r: [_grouped_endpoint(r, top_ids, hits), r.c.version])
    position = {v: i for i, v in enumerate(order)}
    cells: dict[tuple[int, str], int] = defaultdict(int)
    for (_, e, v), n in found.items():
        name = label.get(v, v)
        position.setdefault(name, len(position))  # a collation that folds case may spell a version differently
        cells[(int(e), name)] += int(n)
    totals: dict[int, int] = defaultdict(int)
    for (e, _), n in cells.items():
        totals[e] += n
    rank = {e: i for i, e in enumerate(top_ids + [-1])}
    keyed = sorted(((rank[e], position[v], e, v, n) for (e, v), n in cells.items() if n), key=lambda k: k[:2])
    return [{"endpoint": series[e], "endpoint_id": _id(e), "other": e == -1, "version": v, "hits": n,
             "share": n / totals[e], "order": o}
            for _, o, e, v, n in keyed]


def durations_by_endpoint(conn: Connection, t: Tables, period: DatePeriod, top: int = 25) -> list[dict]:
    """Box-plot rows from the histograms: {endpoint, hits, p5, q1, median, q3, p95} in ms, busiest first."""
    hits = hits_by_endpoint(conn, t, period)
    if not hits:
        return []
    top_ids = top_endpoints(hits, top)
    series = _series(endpoint_names(conn, t), top_ids, hits)
    hists = by_first(histograms(conn, t, period.utc, list(hits)))
    groups = [(series[e], e, hits[e], hists.get(e, {})) for e in top_ids]
    rest = [e for e in hits if e not in series]
    if rest:
        groups.append((series[-1], -1, sum(hits[e] for e in rest), merge([hists.get(e, {}) for e in rest])))
    rows = []
    for name, e, count, hist in groups:
        qs = percentiles(hist, BOX_QUANTILES)
        if qs is None:
            continue
        rows.append({"endpoint": name, "endpoint_id": _id(e), "other": e == -1, "hits": count,
                     **{k: q * 1000 for k, q in zip(("p5", "q1", "median", "q3", "p95"), qs)}})
    return rows


def status_by_day(conn: Connection, t: Tables, period: DatePeriod, top: int = 8,
                  unrouted: bool = True) -> list[dict]:
    """Status codes over time: {endpoint, endpoint_id, other, unrouted, <grain>, status (str), hits} for the
    *top* endpoints and "other", by rank, bucket and status; then, with *unrouted*, the requests that matched
    no route as one more series (``UNROUTED``, ``unrouted`` True)."""
    hits = hits_by_endpoint(conn, t, period)
    labels, key = period.bucket_labels(), grain(period)
    rows = []
    if hits:
        top_ids = top_endpoints(hits, top)
        series = _series(endpoint_names(conn, t), top_ids, hits)
        cells = counts(conn, t, period.edges(),
                       lambda r: [_grouped_endpoint(r, top_ids, hits), r.c.status_code])
        rank = {e: i for i, e in enumerate(top_ids + [-1])}
        keyed = sorted(((rank[int(e)], b, int(s), int(e), n) for (b, e, s), n in cells.items()),
                       key=lambda k: k[:3])
        rows = [{"endpoint": series[e], "endpoint_id": _id(e), "other": e == -1, "unrouted": False,
                 key: labels[b], "status": str(s), "hits": n} for _, b, s, e, n in keyed]
    if unrouted:
        rows += [{"endpoint": UNROUTED, "endpoint_id": None, "other": False, "unrouted": True, key: labels[b],
                  "status": str(s), "hits": n} for b, s, n in unrouted_by_bucket(conn, t, period.edges())]
    return rows


def unrouted_by_bucket(conn: Connection, t: Tables, edges: list[datetime]) -> list[tuple[int, int, int]]:
    """Requests that matched no route: (bucket index, status code, count) per bucket ``[edges[i], edges[i+1])``,
    by bucket and status. Read from ``unrouted_hour`` (hourly only: a few rows per hour at most)."""
    if len(edges) < 2 or edges[0] >= edges[-1]:
        return []
    u = t.unrouted_hour
    inner = (select(interval_index(u.c.hour, edges[:-1]).label("b"), u.c.status_code.label("s"),
                    u.c["count"].label("n"))
             .where(u.c.hour >= edges[0], u.c.hour < edges[-1]).subquery())
    stmt = select(inner.c.b, inner.c.s, func.sum(inner.c.n)).group_by(inner.c.b, inner.c.s)
    return sorted((int(b), int(s), int(n)) for b, s, n in conn.execute(stmt) if n)
