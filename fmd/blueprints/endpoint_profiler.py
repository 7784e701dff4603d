"""The Profiler and Grouped profiler tabs of the endpoint page (level 3), a request's tree, the speedscope download
and the "What changed" diff page.

The tabs themselves are served by ``fmd.blueprints.endpoint`` (``/endpoint/<id>/profiler`` and
``/endpoint/<id>/grouped-profiler``, in its three sizes), which calls ``profiler_panel`` / ``grouped_panel`` for
their context. This module's own routes:

* ``/endpoint/<id>/profiler/<profile_id>``: one request's execution tree; for htmx the detail ``<tr>`` that a
  row's link swaps in below itself, otherwise a whole page. ``?fold=1`` folds runs of library frames;
* ``/endpoint/<id>/grouped-profiler.speedscope.json``: the merged requests in speedscope's file format;
* ``/endpoint/<id>/profiler-diff``: two versions (``base``/``other``) or two date ranges (``base_start``,
  ``base_end``, ``other_start``, ``other_end``) compared: a differential flame graph and the frames that grew most.

Grouped profiler arguments: ``version`` (empty: all), ``sort`` (a table column) and ``dir`` (asc/desc), ``root``
(a frame's path key: the charts and table zoom on it; an unknown key is a 404). Bad values are 400s with a message.
"""

from __future__ import annotations

import json
import math
import os
from functools import lru_cache
from typing import Any, Mapping

from flask import Blueprint, Response, abort, request, url_for
from sqlalchemy import Connection

from ..charts import tables
from ..charts.flame import diff_chart, icicle_chart
from ..charts.sunburst import sunburst_chart
from ..instrument.tracebacks import AppCode
from ..queries import profiles as q
from ..queries._range import DatePeriod, utcnow
from ..store.models import VERSION_LEN, Tables
from ._access import get_state, login_required
from ._htmx import is_htmx, page_or_fragment
from ._params import parse_date, parse_period, period_args
from ._profile_tree import tree_lines
from ._tabs import Tab, endpoint_or_404
from .endpoint_outliers import parse_page

bp = Blueprint("endpoint_profiler", __name__)

#: The lowest monitoring level that samples requests.
PROFILE_LEVEL = 3
LEVEL_NOTE = "The profiler samples requests at monitoring level 3."
#: Grouped table columns that can be sorted (``path`` is the tree's own order); numbers sort biggest first.
SORTS = ("path", "function", "hits", "mean", "std", "total", "share")
#: Rows of the grouped table shown (a merged tree of 100 requests can have thousands of paths).
TABLE_LIMIT = 500
#: Each side of a diff needs this many profiled requests.
MIN_DIFF_PROFILES = 2
#: Own-time growth (s per request) below this is float noise, not a frame that grew.
MIN_GROWTH = 1e-6
_MAX_KEY = 64


def _trees() -> Any:
    from .. import trees

    return trees


@lru_cache(maxsize=8)
def _app_code(paths: tuple[str, ...]) -> AppCode:
    return AppCode(list(paths) or None)


def app_code() -> AppCode:
    """The host's application code (APP_PATHS, relative to its root_path), as the tracebacks judge it."""
    state = get_state()
    host = state.host_app
    root = host.root_path if host is not None else os.getcwd()
    return _app_code(tuple(os.path.join(root, path) for path in state.settings.app_paths))


def _one(args: Mapping[str, str], name: str, default: str = "") -> str:
    value = args.get(name)
    return default if value is None else str(value)


def parse_version(args: Mapping[str, str], name: str = "version") -> str | None:
    """A version argument: None when absent or empty (all versions), or a 400 when it is too long."""
    value = _one(args, name)
    if len(value) > VERSION_LEN:
        abort(400, f"{name} is {len(value)} characters long; a version has at most {VERSION_LEN}.")
    return value or None


def parse_sort(args: Mapping[str, str]) -> tuple[str, bool]:
    """(``sort``: one of SORTS, default path; ``dir`` asc or desc: True for descending) or a 400."""
    sort = _one(args, "sort", "path")
    if sort not in SORTS:
        abort(400, f"sort must be one of {', '.join(SORTS)}, not {sort[:40]!r}.")
    default = "asc" if sort in ("path", "function") else "desc"
    direction = _one(args, "dir", default)
    if direction not in ("asc", "desc"):
        abort(400, f"dir must be asc or desc, not {direction[:40]!r}.")
    return sort, direction == "desc"


def parse_fold(args: Mapping[str, str]) -> bool:
    value = _one(args, "fold", "0")
    if value not in ("0", "1"):
        abort(400, f"fold must be 0 or 1, not {value[:40]!r}.")
    return value == "1"


def profiler_panel(conn: Connection, t: Tables, endpoint: dict, period: DatePeriod, args: Any) -> dict:
    """The Profiler tab's context: a page of profiled requests and the achieved sampling rate."""
    page = parse_page(args)
    eid, rng = endpoint["id"], period.utc
    total = q.count_profiles(conn, t, eid, rng)
    pages = max(1, math.ceil(total / q.PAGE_SIZE))
    page = min(page, pages)  # past the end: the last page, so an old link still shows something
    rows = q.profiles_page(conn, t, eid, rng, page) if total else []

    def page_url(n: int) -> str:
        return url_for("endpoint.profiler", endpoint_id=eid, **period_args(period), page=n)

    return {"profiler": {
        "rows": rows, "total": total, "page": page, "pages": pages,
        "first_number": (page - 1) * q.PAGE_SIZE + 1,
        "sampling": endpoint["level"] >= PROFILE_LEVEL, "level_note": LEVEL_NOTE,
        "interval": q.mean_interval(conn, t, eid, rng) if total else None,
        "period_ms": get_state().settings.sampling_period,
        "prev_url": page_url(page - 1) if page > 1 else None,
        "next_url": page_url(page + 1) if page < pages else None,
        "first_url": page_url(1), "last_url": page_url(pages),
    }}


def _sorted_table(rows: list[dict], sort: str, desc: bool) -> list[dict]:
    if sort == "path":
        return rows[::-1] if desc else rows
    if sort == "function":
        return sorted(rows, key=lambda r: (str(r["function"]).lower(), r["file"], r["line"]), reverse=desc)
    return sorted(rows, key=lambda r: r[sort], reverse=desc)


def grouped_panel(conn: Connection, t: Tables, endpoint: dict, period: DatePeriod, args: Any) -> dict:
    """The Grouped profiler tab's context: the merged tree of the newest profiled requests, table and charts."""
    version = parse_version(args)
    sort, desc = parse_sort(args)
    root_key = _one(args, "root")
    eid = endpoint["id"]
    versions = q.versions_with_profiles(conn, t, eid, period.utc)
    profiles = q.recent_profiles(conn, t, eid, period.utc, version)
    trees = q.trees_of(conn, t, profiles)
    merged = _trees().merge(trees) if trees else None
    node = merged
    if root_key and merged is not None:
        node = _trees().find(merged, root_key) if len(root_key) <= _MAX_KEY else None
    if root_key and node is None:
        abort(404, f"No frame with the key {root_key[:_MAX_KEY]!r} in the merged profile: the requests in the range "
                   "changed since the link was made. Reset the zoom to see the whole tree.")
    keep = {**period_args(period), **({"version": version} if version else {})}
    here = {**keep, **({"root": root_key} if root_key else {})}
    ctx: dict[str, Any] = {
        "versions": versions, "version": version, "count": len(trees), "limit": q.MERGE_LIMIT, "sort": sort,
        "desc": desc, "root_key": root_key or None, "sampling": endpoint["level"] >= PROFILE_LEVEL,
        "level_note": LEVEL_NOTE, "sorts": SORTS,
        "speedscope_url": url_for("endpoint_profiler.speedscope", endpoint_id=eid, **keep),
        "diff_url": url_for("endpoint_profiler.diff", endpoint_id=eid),
        "reset_url": url_for("endpoint.grouped_profiler", endpoint_id=eid, **keep),
        "sort_urls": {key: url_for("endpoint.grouped_profiler", endpoint_id=eid, **here, sort=key,
                                   dir=("asc" if desc else "desc") if key == sort
                                   else ("asc" if key in ("path", "function") else "desc"))
                      for key in SORTS},
    }
    if node is not None:
        trees_mod = _trees()
        zoom = url_for("endpoint.grouped_profiler", endpoint_id=eid, **keep) + "&root="
        rows = _sorted_table(trees_mod.table(node, len(trees)), sort, desc)
        ctx.update(node=node, table=rows[:TABLE_LIMIT], table_total=len(rows), table_limit=TABLE_LIMIT,
                   icicle_spec=icicle_chart(trees_mod.icicle(node), zoom),
                   sunburst_spec=sunburst_chart(trees_mod.sunburst(node), zoom))
    return {"grouped": ctx}



@bp.get("/endpoint/<int:endpoint_id>/profiler/<int:profile_id>")
@login_required
def profile(endpoint_id: int, profile_id: int) -> Response:
    """One profiled request's tree: the detail row for htmx (swapped in below its row), a whole page otherwise."""
    state = get_state()
    period = parse_period(request.args, utcnow(), state.settings.timezone)
    fold = parse_fold(request.args)
    with state.store.read() as conn:
        t = state.store.tables
        endpoint = endpoint_or_404(conn, t, endpoint_id)
        prof = q.profile_by_id(conn, t, endpoint_id, profile_id)
        tree = q.tree_of(conn, t, prof["request_id"]) if prof is not None else None
    if prof is None:
        abort(404, f"The endpoint “{endpoint['name']}” has no profiled request with id {profile_id}: it belongs to "
                   "another endpoint, or retention or a purge removed it.")
    lines, hidden = tree_lines(tree, app_code().is_app, fold) if tree is not None else ([], 0)
    url = url_for(".profile", endpoint_id=endpoint_id, profile_id=profile_id, **period_args(period))
    ctx = {"endpoint": endpoint, "p": prof, "lines": lines, "hidden": hidden, "fold": fold, "inline": is_htmx(),
           "period": period, "tz": period.tz, "now": utcnow(), "fold_url": url + "&fold=1", "unfold_url": url,
           "back_url": url_for("endpoint.profiler", endpoint_id=endpoint_id, **period_args(period))}
    return page_or_fragment("fmd/endpoint_profile.html", "fmd/partials/_profile_detail.html", **ctx)


@bp.get("/endpoint/<int:endpoint_id>/grouped-profiler.speedscope.json")
@login_required
def speedscope(endpoint_id: int) -> Response:
    """The merged requests of the Grouped profiler tab (same range and version) in speedscope's JSON format."""
    state = get_state()
    period = parse_period(request.args, utcnow(), state.settings.timezone)
    version = parse_version(request.args)
    with state.store.read() as conn:
        t = state.store.tables
        endpoint = endpoint_or_404(conn, t, endpoint_id)
        trees = q.trees_of(conn, t, q.recent_profiles(conn, t, endpoint_id, period.utc, version))
    name = f"{endpoint['name']} ({version or 'all versions'}, {period.first} to {period.last}, {len(trees)} requests)"
    body = _trees().speedscope(trees, name)
    filename = f"fmd-endpoint-{endpoint_id}-profile-{period.first}-{period.last}.speedscope.json"
    return Response(json.dumps(body), mimetype="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


_RANGE_ARGS = ("base_start", "base_end", "other_start", "other_end")


def _side_period(args: Mapping[str, str], side: str, tz: str) -> DatePeriod:
    first, last = (parse_date(_one(args, f"{side}_{end}"), f"{side}_{end}") for end in ("start", "end"))
    try:
        return DatePeriod(first, last, tz)
    except ValueError as exc:
        abort(400, f"{side}: {exc}.")


def _side(conn: Connection, t: Tables, eid: int, label: str, **where: Any) -> dict:
    profiles = q.recent_profiles(conn, t, eid, **where)
    trees = q.trees_of(conn, t, profiles)
    return {"label": label, "count": len(trees), "merged": _trees().merge(trees) if trees else None}


@bp.get("/endpoint/<int:endpoint_id>/profiler-diff")
@login_required
def diff(endpoint_id: int) -> Response:
    """What changed between two versions or two date ranges: a differential flame graph and what grew most."""
    state = get_state()
    tz = state.settings.timezone
    args = request.args
    by_dates = any(_one(args, name) for name in _RANGE_ARGS)
    if by_dates and not all(_one(args, name) for name in _RANGE_ARGS):
        abort(400, "Comparing date ranges needs all of base_start, base_end, other_start and other_end.")
    with state.store.read() as conn:
        t = state.store.tables
        endpoint = endpoint_or_404(conn, t, endpoint_id)
        versions = [row["version"] for row in q.versions_with_profiles(conn, t, endpoint_id)]
        base_v, other_v = parse_version(args, "base"), parse_version(args, "other")
        if by_dates:
            periods = {side: _side_period(args, side, tz) for side in ("base", "other")}
            sides = [_side(conn, t, endpoint_id, f"{p.first} to {p.last}", rng=p.utc) for p in periods.values()]
        else:
            periods = {}
            base_v = base_v or (versions[1] if len(versions) > 1 else None)
            other_v = other_v or (versions[0] if versions else None)
            sides = [_side(conn, t, endpoint_id, f"version {v}", version=v) for v in (base_v, other_v)
                     if v is not None]
    ctx: dict[str, Any] = {"endpoint": endpoint, "versions": versions, "base": base_v, "other": other_v,
                           "by_dates": by_dates, "periods": periods, "sides": sides, "tz": tz, "now": utcnow(),
                           "min_profiles": MIN_DIFF_PROFILES, "limit": q.MERGE_LIMIT,
                           "back_url": url_for("endpoint.grouped_profiler", endpoint_id=endpoint_id),
                           "range_values": {name: _one(args, name) for name in _RANGE_ARGS}}
    if len(sides) == 2 and all(side["count"] >= MIN_DIFF_PROFILES for side in sides):
        trees_mod = _trees()
        rows = trees_mod.diff(sides[0]["merged"], sides[1]["merged"], sides[0]["count"], sides[1]["count"])
        grew = [row for row in trees_mod.grew_most(rows) if row["change_self_s"] >= MIN_GROWTH]
        ctx.update(diff_spec=diff_chart(rows), grew=grew, diff_table=tables.for_profile_diff(rows))
    return page_or_fragment("fmd/endpoint_profiler_diff.html", "fmd/partials/_profile_diff.html", **ctx)


PROFILER_TAB = Tab(
    "profiler", "Profiler", "Requests sampled by the profiler, newest first: open one for its execution tree, each "
    "line with its estimated time and share of the request, the hot path open.",
    None, None, "fmd/partials/_endpoint_profiler.html", profiler_panel)
GROUPED_TAB = Tab(
    "grouped_profiler", "Grouped profiler", f"The execution of the newest {q.MERGE_LIMIT} profiled requests in the "
    "range merged by code path: a table, a flame graph and a sunburst. Click a frame to zoom in.",
    None, None, "fmd/partials/_endpoint_grouped_profiler.html", grouped_panel)
