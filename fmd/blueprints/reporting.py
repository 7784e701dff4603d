"""The Reporting page: did an endpoint get slower (or fail more) between two periods or two versions?

``/reporting`` takes ``compare`` = ``last24`` (default: the last 24 hours against the 24 before), ``today``
(today so far against the same hours yesterday), ``week`` (this week so far against the same part of last
week), ``ranges`` (``b_start``, ``b_end``, ``c_start``, ``c_end``: dates, END inclusive, or ISO times, END
exclusive, in TIMEZONE) or ``versions`` (``b_version``, ``c_version``); and ``min_effect`` (percent, default
REPORT_MIN_EFFECT or 10). The statistics are ``fmd.reports``'; the same report is ``flask fmd report``.
A bad argument is a 400 naming it. HTMX requests get only the ``#fmd-reporting`` section.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Mapping

from flask import Blueprint, Response, abort, current_app, request, url_for

from ..queries import reporting as q
from ..queries._range import TimeRange, to_local, utcnow
from ..reports import Params
from ..store.models import VERSION_LEN
from ._access import get_state, login_required
from ._htmx import page_or_fragment

bp = Blueprint("reporting", __name__)

#: The quick choices: (compare value, label).
QUICK = (("last24", "Last 24 hours vs the 24 before"), ("today", "Today vs yesterday"),
         ("week", "This week vs last week"))
KINDS = {key for key, _ in QUICK} | {"ranges", "versions"}
_RANGE_ARGS = ("b_start", "b_end", "c_start", "c_end")


def _arg(args: Mapping[str, str], name: str) -> str:
    return str(args.get(name) or "").strip()


def _comparison(args: Mapping[str, str], now: datetime, tz: str) -> tuple[str, q.Comparison]:
    kind = _arg(args, "compare") or "last24"
    if kind not in KINDS:
        abort(400, f"compare must be one of {', '.join(sorted(KINDS))}, not {kind[:40]!r}.")
    try:
        if kind == "last24":
            return kind, q.last_24_hours(now)
        if kind == "today":
            return kind, q.today(now, tz)
        if kind == "week":
            return kind, q.this_week(now, tz)
        if kind == "versions":
            base, cand = _arg(args, "b_version"), _arg(args, "c_version")
            if not base or not cand:
                abort(400, "Comparing versions needs both b_version (the baseline) and c_version (the candidate).")
            if max(len(base), len(cand)) > VERSION_LEN or "\x00" in base + cand:
                abort(400, f"A version is at most {VERSION_LEN} characters long, without NUL.")
            return kind, q.versions(base, cand)
        missing = [name for name in _RANGE_ARGS if not _arg(args, name)]
        if missing:
            abort(400, f"Comparing ranges needs b_start, b_end, c_start and c_end; missing: {', '.join(missing)}.")
        ranges = []
        for side, label in (("b", "baseline"), ("c", "candidate")):
            try:
                ranges.append(q.parse_bounds(_arg(args, f"{side}_start"), _arg(args, f"{side}_end"), tz))
            except ValueError as exc:
                abort(400, f"The {label} range: {exc}.")
        return kind, q.periods(ranges[0], ranges[1], now)
    except ValueError as exc:
        abort(400, f"{exc}.")


def _min_effect(args: Mapping[str, str], default: float) -> float:
    raw = _arg(args, "min_effect")
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1000:
        abort(400, f"min_effect must be a percentage from 0 to 1000, not {raw[:40]!r}.")
    return value


def _local_dates(rng: TimeRange, tz: str) -> tuple[str, str]:
    """The local dates a period starts and ends on (its last included moment), for date inputs and links."""
    return (to_local(rng.start, tz).date().isoformat(),
            to_local(rng.end - timedelta(seconds=1), tz).date().isoformat())


def _diff_args(comparison: q.Comparison, tz: str) -> dict[str, str] | None:
    """Arguments of the profiler's "What changed" page for this comparison, or None without a profiler."""
    if "endpoint_profiler.diff" not in current_app.view_functions:
        return None
    if comparison.by_version:
        return {"base": str(comparison.baseline), "other": str(comparison.candidate)}
    (bs, be), (cs, ce) = (_local_dates(r, tz) for r in (comparison.baseline, comparison.candidate))  # type: ignore[arg-type]
    return {"base_start": bs, "base_end": be, "other_start": cs, "other_end": ce}


@bp.get("/reporting")
@login_required
def index() -> Response:
    """The comparison chosen in the URL, regressions first, then improvements, unchanged and undecided."""
    state = get_state()
    tz = state.settings.timezone
    args = request.args
    kind, comparison = _comparison(args, utcnow(), tz)
    default_effect = float(state.settings.report_min_effect)  # REPORT_MIN_EFFECT, in percent
    min_effect = _min_effect(args, default_effect)
    with state.store.read() as conn:
        t = state.store.tables
        present = q.versions_present(conn, t)
        report = q.report(conn, t, comparison, Params(min_effect=min_effect / 100))
    names = [row["version"] for row in present]
    if comparison.by_version:
        range_values = dict.fromkeys(_RANGE_ARGS, "")
        b_version, c_version = str(comparison.baseline), str(comparison.candidate)
    else:
        (bs, be), (cs, ce) = (_local_dates(r, tz) for r in (comparison.baseline, comparison.candidate))  # type: ignore[arg-type]
        range_values = {"b_start": bs, "b_end": be, "c_start": cs, "c_end": ce}
        if kind == "ranges":  # keep what was typed (it may hold times)
            range_values = {name: _arg(args, name) for name in _RANGE_ARGS}
        b_version, c_version = (names[1] if len(names) > 1 else ""), (names[0] if names else "")
    effect_arg = {"min_effect": _arg(args, "min_effect")} if _arg(args, "min_effect") else {}
    ctx: dict[str, Any] = {
        "kind": kind, "comparison": comparison, "report": report, "tz": tz, "versions": present,
        "b_version": b_version, "c_version": c_version, "range_values": range_values,
        "min_effect": min_effect, "effect_arg": effect_arg,
        "quick": [(key, label, url_for(".index", compare=key, **effect_arg)) for key, label in QUICK],
        "diff_args": _diff_args(comparison, tz),
        "groups": [(verdict, report.by_verdict(verdict)) for verdict in
                   ("regression", "improvement", "unchanged", "insufficient")],
    }
    return page_or_fragment("fmd/reporting.html", "fmd/partials/_reporting_page.html", **ctx)
