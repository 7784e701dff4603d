"""Trends over a chosen range: per endpoint the requests per bucket (the sparkline), the 5xx share, median and
p95, and the p95 of the previous period of the same length; over all of them the headline figures and their
change against that previous period.

Everything comes from the rollups, in a fixed number of reads whatever the number of endpoints: one grouped
``counts()`` over the range's buckets (by endpoint and 5xx or not), one ``counts()`` of the previous period's
total (by 5xx or not), and one histogram read per period (``histograms()`` splits each into whole UTC days and
the partial days at its edges). Never raw request rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from sqlalchemy import Connection, Table, case

from ..store.models import Tables
from ._counters import counts
from ._histograms import Histogram, by_first, histograms, merge, percentiles
from ._range import DatePeriod

#: Relative changes smaller than this are within the histograms' resolution (one bucket is ~4.4 % wide):
#: shown, but not coloured as better or worse.
NOISE = 0.05


@dataclass(frozen=True)
class Figures:
    """Requests, 5xx responses and the p95 duration (seconds, None without requests) of one period."""

    requests: int = 0
    errors: int = 0
    p95: float | None = None

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None


@dataclass(frozen=True)
class Headline:
    """The range's figures next to the previous period's, and the change of each (None: nothing to compare)."""

    current: Figures
    previous: Figures

    @property
    def requests_change(self) -> float | None:
        """Relative change of the request count: 0.12 for +12 %."""
        return relative(self.current.requests, self.previous.requests) if self.current.requests or \
            self.previous.requests else None

    @property
    def error_rate_change(self) -> float | None:
        """Change of the 5xx share in percentage points as a fraction: 0.004 for +0.4 pp."""
        now, before = self.current.error_rate, self.previous.error_rate
        return None if now is None or before is None else now - before

    @property
    def p95_change(self) -> float | None:
        return relative(self.current.p95, self.previous.p95)


@dataclass
class EndpointTrend:
    """One endpoint over the range: requests per bucket (only non-zero ones), totals and percentiles."""

    buckets: dict[int, int] = field(default_factory=dict)
    requests: int = 0
    errors: int = 0
    median: float | None = None
    p95: float | None = None
    p95_previous: float | None = None

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None

    @property
    def p95_change(self) -> float | None:
        return relative(self.p95, self.p95_previous)


@dataclass(frozen=True)
class Trends:
    headline: Headline
    endpoints: dict[int, EndpointTrend]


def relative(now: float | None, before: float | None) -> float | None:
    """now / before - 1; None when either is missing or *before* is zero (no base to compare with)."""
    if now is None or before is None or before == 0:
        return None
    return now / before - 1


def previous_period(period: DatePeriod) -> DatePeriod | None:
    """``period.previous()``, or None when it would start before the earliest date a period may have (2000)."""
    try:
        return period.previous()
    except ValueError:
        return None


def _is_error(table: Table) -> object:
    return case((table.c.status_code >= 500, 1), else_=0)


def trends(conn: Connection, t: Tables, period: DatePeriod, endpoint_ids: Sequence[int],
           every_endpoint: bool = False) -> Trends:
    """Trends of *endpoint_ids* over *period* (buckets: ``period.edges()``) and against ``period.previous()``.

    *every_endpoint*: the ids are all stored endpoints, so the counter reads need no ``IN`` list (a plain scan
    of the range beats a long list on the rollup tables).
    """
    ids = sorted(set(endpoint_ids))
    if not ids:
        return Trends(Headline(Figures(), Figures()), {})
    previous = previous_period(period)

    def only_ids(table: Table) -> list:
        return [] if every_endpoint else [table.c.endpoint_id.in_(ids)]

    out = {eid: EndpointTrend() for eid in ids}
    per_bucket = counts(conn, t, period.edges(), lambda table: (table.c.endpoint_id, _is_error(table)), only_ids)
    for (bucket, eid, error), n in per_bucket.items():
        trend = out.get(eid)
        if trend is None:  # an endpoint added since the endpoint list was read
            continue
        trend.buckets[bucket] = trend.buckets.get(bucket, 0) + n
        trend.requests += n
        if error:
            trend.errors += n
    before = {} if previous is None else counts(conn, t, [previous.utc.start, previous.utc.end],
                                                lambda table: (_is_error(table),), only_ids)

    now_hists = by_first(histograms(conn, t, period.utc, ids))
    before_hists = {} if previous is None else by_first(histograms(conn, t, previous.utc, ids))
    for eid, trend in out.items():
        qs = percentiles(now_hists.get(eid), (0.5, 0.95))
        if qs:
            trend.median, trend.p95 = qs
        prev = percentiles(before_hists.get(eid), (0.95,))
        trend.p95_previous = prev[0] if prev else None

    current = Figures(sum(tr.requests for tr in out.values()), sum(tr.errors for tr in out.values()),
                      _p95([now_hists[eid] for eid in ids if eid in now_hists]))
    prior = Figures(sum(before.values()), sum(n for (_, error), n in before.items() if error),
                    _p95([before_hists[eid] for eid in ids if eid in before_hists]))
    return Trends(Headline(current, prior), out)


def _p95(hists: list[Histogram]) -> float | None:
    qs = percentiles(merge(hists), (0.95,))
    return qs[0] if qs else None
