"""Duration histograms summed over a time range, and percentiles read from them.

A range is read from ``histogram_day`` for the whole UTC days inside it and from ``histogram_hour`` for the
partial days at its edges, so a month costs a few thousand rows per endpoint instead of a million requests.
Both tables are only indexed by their primary key (endpoint_id, hour|day, ...), so every read names the
endpoints it wants: ``endpoint_id IN (...) AND day >= ...`` is a few index range scans on all three databases.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Hashable, Sequence

from sqlalchemy import Connection, func, select

from ..store.histogram import quantiles
from ..store.models import Tables
from ._range import TimeRange

#: Columns a histogram read may group by (besides the bucket).
GROUPABLE = ("endpoint_id", "version", "status_code")

Histogram = dict[int, int]


def histograms(conn: Connection, t: Tables, rng: TimeRange, endpoint_ids: Sequence[int],
               by: Sequence[str] = ("endpoint_id",), *, status_min: int | None = None) -> dict[tuple, Histogram]:
    """bucket -> count per group (a tuple of the *by* columns) over *rng*, for the given endpoints."""
    if any(col not in GROUPABLE for col in by):
        raise ValueError(f"cannot group histograms by {by!r}")
    out: dict[tuple, Histogram] = defaultdict(lambda: defaultdict(int))
    if not endpoint_ids or rng.start >= rng.end:
        return {}
    ids = sorted(set(endpoint_ids))
    days, edges = rng.split()
    reads = [(t.histogram_day, "day", days)] if days else []
    reads += [(t.histogram_hour, "hour", edge) for edge in edges]
    for table, grain, (lo, hi) in reads:
        cols = [table.c[c] for c in by]
        stmt = (select(*cols, table.c.bucket, func.sum(table.c["count"]))
                .where(table.c.endpoint_id.in_(ids), table.c[grain] >= lo, table.c[grain] < hi)
                .group_by(*cols, table.c.bucket))
        if status_min is not None:
            stmt = stmt.where(table.c.status_code >= status_min)
        for row in conn.execute(stmt):
            out[tuple(row[:-2])][row[-2]] += int(row[-1])
    return {key: dict(hist) for key, hist in out.items()}


def merge(hists: Sequence[Histogram]) -> Histogram:
    """One histogram holding every count of *hists*."""
    total: dict[int, int] = defaultdict(int)
    for hist in hists:
        for bucket, count in hist.items():
            total[bucket] += count
    return dict(total)


def percentiles(hist: Histogram | None, qs: Sequence[float]) -> list[float] | None:
    """Quantiles *qs* (ascending, 0..1) of a histogram in seconds; None when it is empty."""
    if not hist:
        return None
    return quantiles(hist.items(), qs)


def by_first(hists: dict[tuple, Histogram]) -> dict[Hashable, Histogram]:
    """Re-key histograms grouped by a single column by that column's value."""
    return {key[0]: hist for key, hist in hists.items()}
