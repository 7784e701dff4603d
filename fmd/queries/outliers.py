"""One endpoint's outliers (level 2): a page of them, one in full, the rows behind the charts and downloads.

Every read is bounded: a page (``PAGE_SIZE`` rows), one outlier, the newest ``CHART_LIMIT`` of a range for the
charts, the newest ``DOWNLOAD_LIMIT`` for a download. All filter on the endpoint and ``time_requested`` inside a
``TimeRange`` (``[start, end)``, naive UTC) and order newest first (ties by id, so paging is stable).

The stored JSON columns (see ``fmd.store.models``: request values, headers, environment, stack, CPU, memory,
cut) are parsed here; a value that does not parse (a row written by hand, a cut-off string) reads as None
rather than failing the page. Durations stay in seconds, as stored.
"""

from __future__ import annotations

import json
from typing import Any, Sequence

from sqlalchemy import Connection, func, select

from ..store.models import Tables
from ._range import TimeRange

#: Outliers per page of the tab.
PAGE_SIZE = 25
#: The newest outliers of a range that the CPU and memory charts are drawn from.
CHART_LIMIT = 500
#: The newest outliers of a range that a download holds.
DOWNLOAD_LIMIT = 10_000
#: Columns holding JSON text.
JSON_COLUMNS = ("request_values", "request_headers", "request_environment", "stacktrace", "cpu_percent", "memory",
                "cut")
#: Columns of a table row (the list): no request details, no stack.
_LIST_COLUMNS = ("id", "request_id", "time_requested", "duration", "average", "status_code", "version", "method",
                 "url", "cpu_percent", "memory")
_BYTES_PER_MB = 1024 * 1024


def parse_json(text: str | None) -> Any:
    """The value of a stored JSON column, or None when it is NULL or does not parse."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def cpu_mean(cores: Any) -> float | None:
    """The mean of a per-core CPU list (percent), or None when there is none."""
    values = [float(v) for v in cores if _is_number(v)] if isinstance(cores, list) else []
    return sum(values) / len(values) if values else None


def rss_mb(memory: Any) -> float | None:
    """The process RSS of a memory dict, in MB (2^20 bytes), or None."""
    rss = memory.get("rss") if isinstance(memory, dict) else None
    return rss / _BYTES_PER_MB if _is_number(rss) else None


def _where(t: Tables, endpoint_id: int, rng: TimeRange) -> list:
    o = t.outlier
    return [o.c.endpoint_id == endpoint_id, o.c.time_requested >= rng.start, o.c.time_requested < rng.end]


def _newest(t: Tables, columns: Sequence[str], endpoint_id: int, rng: TimeRange):  # noqa: ANN202
    o = t.outlier
    return (select(*(o.c[name] for name in columns)).where(*_where(t, endpoint_id, rng))
            .order_by(o.c.time_requested.desc(), o.c.id.desc()))


def count_outliers(conn: Connection, t: Tables, endpoint_id: int, rng: TimeRange) -> int:
    """How many outliers of the endpoint fall in *rng*."""
    return conn.execute(select(func.count()).select_from(t.outlier).where(*_where(t, endpoint_id, rng))).scalar_one()


def _summary(row: dict) -> dict:
    cores, memory = parse_json(row.pop("cpu_percent")), parse_json(row.pop("memory"))
    average = row["average"]
    return {**row, "times_average": row["duration"] / average if average and average > 0 else None,
            "cpu_mean": cpu_mean(cores), "rss_mb": rss_mb(memory)}


def outliers_page(conn: Connection, t: Tables, endpoint_id: int, rng: TimeRange, page: int,
                  size: int = PAGE_SIZE) -> list[dict]:
    """Page *page* (1-based) of the endpoint's outliers in *rng*, newest first, as table rows.

    Each row: the stored id, request_id, time_requested, duration and average (s), status_code, version,
    method, url, plus times_average (duration / average), cpu_mean (% over cores) and rss_mb.
    """
    if page < 1 or size < 1:
        raise ValueError("page and size start at 1")
    query = _newest(t, _LIST_COLUMNS, endpoint_id, rng).limit(size).offset((page - 1) * size)
    return [_summary(dict(row._mapping)) for row in conn.execute(query)]


def outlier_by_id(conn: Connection, t: Tables, endpoint_id: int, outlier_id: int) -> dict | None:
    """One outlier of the endpoint with its JSON columns parsed, or None (unknown, or another endpoint's)."""
    if not 0 <= outlier_id < 2**63:  # a bigger id (from a URL) would overflow the drivers' integer binding
        return None
    o = t.outlier
    row = conn.execute(select(o).where(o.c.id == outlier_id, o.c.endpoint_id == endpoint_id)).first()
    if row is None:
        return None
    full = dict(row._mapping)
    parsed = {name: parse_json(full[name]) for name in JSON_COLUMNS}
    return {**_summary(dict(full)), **parsed}


def outliers_for_download(conn: Connection, t: Tables, endpoint_id: int, rng: TimeRange,
                          limit: int = DOWNLOAD_LIMIT) -> tuple[list[dict], bool]:
    """(the newest *limit* outliers in *rng* with every stored column, JSON columns as text; True if more exist)."""
    o = t.outlier
    rows = [dict(row._mapping) for row in conn.execute(
        _newest(t, [c.name for c in o.columns], endpoint_id, rng).limit(limit + 1))]
    return rows[:limit], len(rows) > limit


def resources_of_newest(conn: Connection, t: Tables, endpoint_id: int, rng: TimeRange,
                        limit: int = CHART_LIMIT) -> list[dict]:
    """The newest *limit* outliers in *rng*, oldest first: {id, time_requested, cores (list), memory (dict)}."""
    query = _newest(t, ("id", "time_requested", "cpu_percent", "memory"), endpoint_id, rng).limit(limit)
    rows = [{"id": row.id, "time_requested": row.time_requested, "cores": parse_json(row.cpu_percent),
             "memory": parse_json(row.memory)} for row in conn.execute(query)]
    rows.reverse()
    return rows


def _quantile(ordered: list[float], q: float) -> float:
    """Linear interpolation between the closest ranks (numpy's default) of a sorted, non-empty list."""
    pos = (len(ordered) - 1) * q
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def cpu_boxes(rows: Sequence[dict]) -> list[dict]:
    """One row per CPU core over *rows* (``resources_of_newest``): {core, outliers, min, q1, median, q3, max, mean}.

    Quantiles are computed here, so a chart carries a handful of numbers per core instead of every sample.
    """
    per_core: dict[int, list[float]] = {}
    for row in rows:
        cores = row["cores"] if isinstance(row["cores"], list) else []
        for core, value in enumerate(cores):
            if _is_number(value):
                per_core.setdefault(core, []).append(float(value))
    boxes = []
    for core in sorted(per_core):
        values = sorted(per_core[core])
        boxes.append({"core": core, "outliers": len(values), "min": values[0], "q1": _quantile(values, 0.25),
                      "median": _quantile(values, 0.5), "q3": _quantile(values, 0.75), "max": values[-1],
                      "mean": sum(values) / len(values)})
    return boxes


def memory_points(rows: Sequence[dict]) -> list[dict]:
    """{id, time_requested, rss_mb, system_percent} per outlier of *rows* that recorded its memory."""
    points = []
    for row in rows:
        memory = row["memory"] if isinstance(row["memory"], dict) else {}
        system = memory.get("system_percent")
        point = {"id": row["id"], "time_requested": row["time_requested"], "rss_mb": rss_mb(memory),
                 "system_percent": float(system) if _is_number(system) else None}
        if point["rss_mb"] is not None or point["system_percent"] is not None:
            points.append(point)
    return points
