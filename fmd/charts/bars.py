"""Stacked bars over time (one bar per hour or local day): requests per endpoint, status codes per endpoint.

Rows name their bucket under the key *grain* ("hour" or "day", see ``fmd.queries.app.grain``). A row may
carry an ``href`` (``_theme.linked``): a click on its bar opens it (the endpoint's page).
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping, Sequence

from ._theme import build, endpoint_scale, linked, ranked, slot, status_scale

DAILY = "daily"
STATUS = "status"
#: Endpoints with their own status chart; the rest are summed into "other", unless fewer than FOLD_MIN.
STATUS_TOP = 8
FOLD_MIN = 3
#: Status small multiples per row, and the plot width of each for that many columns: three fit a ~1100 px
#: page (Vega-Lite cannot size facet cells to their container, so the widths are fixed).
STATUS_COLUMNS = 3
STATUS_WIDTHS = {1: 900, 2: 470, 3: 300}
#: Only whole numbers of requests on a count axis.
COUNT_AXIS = {"format": ",d", "tickMinStep": 1}


def buckets_of(rows: Sequence[Mapping], grain: str, buckets: Sequence[str] | None) -> list[str]:
    """The x axis: every bucket of the range when known (a quiet hour keeps its place), else those in *rows*."""
    # dict.fromkeys: the hour repeated when clocks go back has one label, and one band.
    return list(dict.fromkeys(buckets)) if buckets is not None else sorted({row[grain] for row in rows})


def time_title(grain: str, tz: str) -> str:
    """"Hour (Europe/Amsterdam)" / "Day (UTC)": what a bar stands for, in which zone."""
    return f"{grain.capitalize()} ({tz})" if tz else grain.capitalize()


def _daily(grain: str) -> Any:
    import altair as alt

    return (alt.Chart(alt.NamedData(DAILY), title=slot("title"))
            .mark_bar(cursor="pointer")
            .encode(x=alt.X(f"{grain}:O", title=slot("time_title"), scale=alt.Scale(domain=[slot("buckets")]),
                            axis=alt.Axis(labelAngle=-45, labelOverlap=True)),
                    y=alt.Y("sum(hits):Q", title="Requests", axis=alt.Axis(**COUNT_AXIS)),
                    color=alt.Color("endpoint:N", title="Endpoint",
                                    scale=alt.Scale(domain=[slot("domain")], range=[slot("range")]),
                                    legend=alt.Legend(orient="bottom", columns=3, labelLimit=260)),
                    order=alt.Order("rank:Q"),  # busiest endpoint at the bottom of each stack
                    href=alt.Href("href:N"),  # the endpoint's page; "other" has none
                    tooltip=[alt.Tooltip(f"{grain}:O", title=slot("time_title")),
                             alt.Tooltip("endpoint:N", title="Endpoint"),
                             alt.Tooltip("hits:Q", title="Requests", format=",")])
            .properties(width="container", height=320))


def daily_chart(rows: Sequence[Mapping], colors: Mapping[str, Iterable[int]] | None = None, *,
                grain: str = "day", tz: str = "", links: Mapping[int, str] | None = None,
                buckets: Sequence[str] | None = None) -> dict:
    """Requests per *grain* stacked per endpoint, from {<grain>, endpoint, endpoint_id, other, hits} rows
    (busiest first); *links*: endpoint id -> URL opened by a click on its bars; *buckets*: every bucket label
    of the range (``DatePeriod.bucket_labels``), so hours or days without requests keep their place."""
    scale = endpoint_scale(rows, colors)
    title = f"Requests per {grain}"
    return build(_daily, {DAILY: ranked(linked(rows, links), scale["domain"])},
                 {**scale, "title": title, "time_title": time_title(grain, tz),
                  "buckets": buckets_of(rows, grain, buckets)}, grain)


def _status(grain: str) -> Any:
    import altair as alt

    base = (alt.Chart(alt.NamedData(STATUS)).mark_bar(cursor="pointer")
            .encode(x=alt.X(f"{grain}:O", title=slot("time_title"), scale=alt.Scale(domain=[slot("buckets")]),
                            axis=alt.Axis(labelAngle=-45, labelOverlap=True)),
                    y=alt.Y("sum(hits):Q", title="Requests", axis=alt.Axis(**COUNT_AXIS)),
                    color=alt.Color("status:N", title="Status",
                                    scale=alt.Scale(domain=[slot("domain")], range=[slot("range")]),
                                    legend=alt.Legend(orient="bottom", direction="horizontal")),
                    order=alt.Order("status:O"),
                    href=alt.Href("href:N"),  # the endpoint's page; "other" and "no route matched" have none
                    tooltip=[alt.Tooltip("endpoint:N", title="Endpoint"),
                             alt.Tooltip(f"{grain}:O", title=slot("time_title")),
                             alt.Tooltip("status:N", title="Status"),
                             alt.Tooltip("hits:Q", title="Requests", format=",")])
            .properties(width=240, height=90))
    return (base.facet(facet=alt.Facet("endpoint:N", title=None, sort=alt.EncodingSortField("rank", op="min"),
                                       header=alt.Header(labelAngle=0, labelAlign="left", labelAnchor="start",
                                                         labelLimit=260, labelFontWeight="bold")),
                       columns=STATUS_COLUMNS, title="Status codes per endpoint")
            .resolve_scale(y="independent"))


def _is_error(status: str) -> bool:
    return len(status) == 3 and status[0] in "45"


def _other_count(label: str) -> int:
    """How many endpoints an upstream "other (N endpoints)" series stands for (1 if the label says nothing)."""
    match = re.match(r"other \((\d+) endpoints?\)", label)
    return int(match.group(1)) if match else 1


def fold_status(rows: Sequence[Mapping], top: int = STATUS_TOP, fold_min: int = FOLD_MIN,
                grain: str = "day") -> list[dict]:
    """*rows* with endpoints ranked by error responses (4xx/5xx), then requests, then name; past the *top*,
    endpoints are summed into one "other" series (after them), but only when it would hold *fold_min* or more.

    So an endpoint that always fails keeps its own chart however little traffic it has. Rows already summed
    upstream (``other``) join the "other" series. Requests that matched no route (``unrouted``) keep their own
    series, last. Output is ordered by rank, bucket (*grain*) and status.
    """
    unrouted = [dict(row) for row in rows if row.get("unrouted")]
    rows = [row for row in rows if not row.get("unrouted")]
    errors: dict[str, int] = {}
    hits: dict[str, int] = {}
    for row in rows:
        if row.get("other"):
            continue
        name = row["endpoint"]
        errors[name] = errors.get(name, 0) + (row["hits"] if _is_error(row["status"]) else 0)
        hits[name] = hits.get(name, 0) + row["hits"]
    upstream = sum(_other_count(name) for name in {row["endpoint"] for row in rows if row.get("other")})
    order = sorted(hits, key=lambda name: (-errors[name], -hits[name], name))
    if len(order) - top >= fold_min:
        order, folded = order[:top], order[top:]
    else:
        folded = []
    kept = set(order)
    out = [dict(row) for row in rows if row["endpoint"] in kept and not row.get("other")]
    count = len(folded) + upstream
    if count:
        label = f"other ({count} endpoint{'s' if count != 1 else ''})"  # as fmd.queries.app.other_label
        summed: dict[tuple[str, str], int] = {}
        for row in rows:
            if row.get("other") or row["endpoint"] not in kept:
                key = (row[grain], row["status"])
                summed[key] = summed.get(key, 0) + row["hits"]
        out += [{"endpoint": label, "endpoint_id": None, "other": True, grain: bucket, "status": status, "hits": n}
                for (bucket, status), n in summed.items() if n]
        order.append(label)
    if unrouted:
        out += unrouted
        order.append(unrouted[0]["endpoint"])
    rank = {name: i for i, name in enumerate(order)}
    out.sort(key=lambda row: (rank[row["endpoint"]], row[grain], len(row["status"]), row["status"]))
    return out


def status_chart(rows: Sequence[Mapping], top: int = STATUS_TOP, *, grain: str = "day", tz: str = "",
                 links: Mapping[int, str] | None = None, buckets: Sequence[str] | None = None) -> dict:
    """Requests per *grain* and status code, one small chart per endpoint (up to three a row), from
    {endpoint, endpoint_id, other, unrouted, <grain>, status, hits}; *links*: endpoint id -> URL of its page;
    *buckets* as for ``daily_chart``.

    Pass every endpoint's rows: ``fold_status`` puts failing endpoints first and folds the rest.
    """
    rows = fold_status(rows, top, grain=grain)
    order = list(dict.fromkeys(row["endpoint"] for row in rows))
    columns = max(1, min(STATUS_COLUMNS, len(order)))
    spec = build(_status, {STATUS: ranked(linked(rows, links), order)},
                 {**status_scale(row["status"] for row in rows), "time_title": time_title(grain, tz),
                  "buckets": buckets_of(rows, grain, buckets)}, grain)
    spec["columns"] = columns
    spec["spec"]["width"] = STATUS_WIDTHS[columns]
    return spec
