"""Stacked bars over local days: requests per endpoint, and status codes per endpoint."""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping, Sequence

from ._theme import build, endpoint_scale, ranked, slot, status_scale

DAILY = "daily"
STATUS = "status"
#: Endpoints with their own status chart; the rest are summed into "other", unless fewer than FOLD_MIN.
STATUS_TOP = 8
FOLD_MIN = 3


def _daily() -> Any:
    import altair as alt

    return (alt.Chart(alt.NamedData(DAILY), title="Requests per day").mark_bar()
            .encode(x=alt.X("day:O", title=None, axis=alt.Axis(labelAngle=-45)),
                    y=alt.Y("sum(hits):Q", title="Requests"),
                    color=alt.Color("endpoint:N", title="Endpoint",
                                    scale=alt.Scale(domain=[slot("domain")], range=[slot("range")]),
                                    legend=alt.Legend(orient="bottom", columns=3, labelLimit=260)),
                    order=alt.Order("rank:Q"),  # busiest endpoint at the bottom of each stack
                    tooltip=[alt.Tooltip("day:O", title="Day"), alt.Tooltip("endpoint:N", title="Endpoint"),
                             alt.Tooltip("hits:Q", title="Requests", format=",")])
            .properties(width="container", height=320))


def daily_chart(rows: Sequence[Mapping], colors: Mapping[str, Iterable[int]] | None = None) -> dict:
    """Requests per day stacked per endpoint, from {day, endpoint, other, hits} rows (busiest first)."""
    scale = endpoint_scale(rows, colors)
    return build(_daily, {DAILY: ranked(rows, scale["domain"])}, scale)


def _status() -> Any:
    import altair as alt

    base = (alt.Chart(alt.NamedData(STATUS)).mark_bar()
            .encode(x=alt.X("day:O", title=None, axis=alt.Axis(labelAngle=-45)),
                    y=alt.Y("sum(hits):Q", title="Requests"),
                    color=alt.Color("status:N", title="Status",
                                    scale=alt.Scale(domain=[slot("domain")], range=[slot("range")])),
                    tooltip=[alt.Tooltip("endpoint:N", title="Endpoint"), alt.Tooltip("day:O", title="Day"),
                             alt.Tooltip("status:N", title="Status"),
                             alt.Tooltip("hits:Q", title="Requests", format=",")])
            .properties(width=240, height=70))
    return (base.facet(row=alt.Row("endpoint:N", title=None, sort=alt.EncodingSortField("rank", op="min"),
                                   header=alt.Header(labelAngle=0, labelAlign="left", labelLimit=220)),
                       title="Status codes per endpoint")
            .resolve_scale(y="independent"))


def _is_error(status: str) -> bool:
    return len(status) == 3 and status[0] in "45"


def _other_count(label: str) -> int:
    """How many endpoints an upstream "other (N endpoints)" series stands for (1 if the label says nothing)."""
    match = re.match(r"other \((\d+) endpoints?\)", label)
    return int(match.group(1)) if match else 1


def fold_status(rows: Sequence[Mapping], top: int = STATUS_TOP, fold_min: int = FOLD_MIN) -> list[dict]:
    """*rows* with endpoints ranked by error responses (4xx/5xx), then requests, then name; past the *top*,
    endpoints are summed into one "other" series (last), but only when it would hold *fold_min* or more.

    So an endpoint that always fails keeps its own chart however little traffic it has. Rows already summed
    upstream (``other``) join the "other" series. Output is ordered by rank, day and status.
    """
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
                key = (row["day"], row["status"])
                summed[key] = summed.get(key, 0) + row["hits"]
        out += [{"endpoint": label, "other": True, "day": day, "status": status, "hits": n}
                for (day, status), n in summed.items() if n]
        order.append(label)
    rank = {name: i for i, name in enumerate(order)}
    out.sort(key=lambda row: (rank[row["endpoint"]], row["day"], len(row["status"]), row["status"]))
    return out


def status_chart(rows: Sequence[Mapping], top: int = STATUS_TOP) -> dict:
    """Requests per day and status code, one small chart per endpoint, from {endpoint, other, day, status, hits}.

    Pass every endpoint's rows: ``fold_status`` puts failing endpoints first and folds the rest.
    """
    rows = fold_status(rows, top)
    order = list(dict.fromkeys(row["endpoint"] for row in rows))
    days = len({row["day"] for row in rows})
    spec = build(_status, {STATUS: ranked(rows, order)}, status_scale(row["status"] for row in rows))
    spec["spec"]["width"] = max(240, min(18 * days, 720))
    return spec
