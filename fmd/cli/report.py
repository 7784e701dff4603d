"""``flask fmd report``: the Reporting page's comparison on the command line, with an exit code a CI step can
gate a deployment on.

Exit codes: 0 no significant regression (at least one endpoint could be tested); 1 one or more regressions;
2 bad arguments, or fmd cannot report for this app (not bound, disabled, database unavailable); 3 no endpoint
has at least ``--min-requests`` requests on both sides, so nothing could be decided (e.g. a version just
deployed that has served too little traffic yet: wait and run again).
"""

from __future__ import annotations

import json
from typing import Any

import click
from flask.cli import with_appcontext

#: Exit codes (see the module docstring).
OK, REGRESSION, BAD_ARGS, TOO_FEW = 0, 1, 2, 3


class ReportError(click.ClickException):
    """A report that cannot be made as asked: exit status 2, never mistaken for a regression (1)."""

    exit_code = BAD_ARGS


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.1f} ms"


def _pct(change: float | None) -> str:
    return "-" if change is None else f"{change:+.0%}"


def _rate(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.1%}"


def _p(p: float | None) -> str:
    return "-" if p is None else f"{p:.2g}"


def as_json(report: Any, comparison: Any, code: int) -> dict:
    """The report as plain JSON values (durations in seconds, changes as fractions)."""
    def stats(s: Any) -> dict:
        return {"requests": s.requests, "errors": s.errors, "error_rate": s.error_rate, "median": s.median,
                "p95": s.p95, "measured": s.measured}

    def side(value: Any, label: str, hours: float | None) -> dict:
        if isinstance(value, str):
            return {"version": value, "label": label}
        return {"start": value.start.isoformat() + "Z", "end": value.end.isoformat() + "Z", "label": label,
                "hours": hours}

    p = report.params
    return {
        "outcome": report.outcome, "exit_code": code,
        "baseline": side(comparison.baseline, comparison.baseline_label, comparison.baseline_hours),
        "candidate": side(comparison.candidate, comparison.candidate_label, comparison.candidate_hours),
        "params": {"min_effect": p.min_effect, "alpha": p.alpha, "min_requests": p.min_requests,
                   "min_error_change": p.min_error_change},
        "endpoints": [{
            "endpoint": e.name, "endpoint_id": e.key, "verdict": e.verdict, "reasons": e.reasons,
            "baseline": stats(e.baseline), "candidate": stats(e.candidate),
            "median_change": e.median_change, "p95_change": e.p95_change, "traffic_change": e.traffic_change,
            "error_change": e.error_change, "p_duration": e.p_duration,
            "p_duration_raw": e.utest.p if e.utest else None,
            "prob_slower": e.utest.prob_slower if e.utest else None,
            "p_errors": e.p_errors, "p_errors_raw": e.p_errors_raw, "error_test": e.error_method,
        } for e in report.endpoints],
    }


def _text(report: Any, comparison: Any, code: int, present: list[dict]) -> None:
    p = report.params
    click.echo(f"Baseline:  {comparison.baseline_label}")
    click.echo(f"Candidate: {comparison.candidate_label}")
    click.echo(f"Flagged when Holm-adjusted p < {p.alpha:g} and the median moves at least {p.min_effect:.0%} "
               f"(error rate: {p.min_error_change * 100:g} points); at least {p.min_requests} requests a side.")
    click.echo("")
    if not report.endpoints:
        click.echo("No requests were recorded on either side.")
    width = min(max((len(e.name) for e in report.endpoints), default=8), 60)
    for e in report.endpoints:
        b, c = e.baseline, e.candidate
        click.echo(f"{e.verdict.upper():<12} {e.name[:60]:<{width}}  "
                   f"requests {b.requests:,} -> {c.requests:,} ({_pct(e.traffic_change)})  "
                   f"median {_ms(b.median)} -> {_ms(c.median)} ({_pct(e.median_change)}, p={_p(e.p_duration)})  "
                   f"p95 {_ms(b.p95)} -> {_ms(c.p95)} ({_pct(e.p95_change)})  "
                   f"errors {_rate(b.error_rate)} -> {_rate(c.error_rate)} (p={_p(e.p_errors)})")
        if e.reasons:
            click.echo(f"{'':<12} {'; '.join(e.reasons)}")
    click.echo("")
    counts = {v: len(report.by_verdict(v)) for v in ("regression", "improvement", "unchanged", "insufficient")}
    click.echo(", ".join(f"{n} {v}" for v, n in counts.items()) + f" -> exit {code}")
    if code == TOO_FEW:
        click.echo(f"Too few requests: no endpoint has {p.min_requests} or more on both sides.")
        if comparison.by_version:
            click.echo("Versions recorded: " + (", ".join(f"{row['version']} ({row['requests']:,} requests)"
                                                          for row in present[:10]) or "none"))


@click.command("report", help="Compare two versions or two periods per endpoint (median, p95, errors, traffic) "
                              "and exit 1 when a significant regression is found (0: none, 2: bad arguments, "
                              "3: too few requests to decide). Default: the last 24 hours against the 24 hours "
                              "before.")
@click.option("--baseline-version", metavar="V", help="The version compared against (with --candidate-version).")
@click.option("--candidate-version", metavar="W", help="The version under test.")
@click.option("--baseline-range", metavar="START..END",
              help="The period compared against: dates (END inclusive) or ISO times (END exclusive); naive values "
                   "are in the dashboard's TIMEZONE, an offset (Z, +02:00) wins.")
@click.option("--candidate-range", metavar="START..END", help="The period under test (as --baseline-range).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--min-effect", type=click.FloatRange(0, 1000), default=None,
              help="Smallest change of the median, in percent, that counts (default: REPORT_MIN_EFFECT, 10).")
@click.option("--alpha", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.05, show_default=True,
              help="Family-wise error rate (Holm) of the duration tests and of the error-rate tests.")
@click.option("--min-requests", type=click.IntRange(2), default=20, show_default=True,
              help="Fewest requests on each side for an endpoint to be tested.")
@with_appcontext
def report(baseline_version: str | None, candidate_version: str | None, baseline_range: str | None,
           candidate_range: str | None, fmt: str, min_effect: float | None, alpha: float, min_requests: int) -> None:
    from ..queries import reporting as q
    from ..queries._range import utcnow
    from ..reports import Params
    from ._common import bound_state

    by_version = baseline_version is not None or candidate_version is not None
    by_range = baseline_range is not None or candidate_range is not None
    if by_version and by_range:
        raise click.UsageError("compare either two versions or two ranges, not both")
    if by_version and not (baseline_version and candidate_version):
        raise click.UsageError("comparing versions needs both --baseline-version and --candidate-version")
    if by_range and not (baseline_range and candidate_range):
        raise click.UsageError("comparing ranges needs both --baseline-range and --candidate-range")
    try:
        state = bound_state()
    except click.ClickException as exc:
        raise ReportError(exc.message) from None
    tz = state.settings.timezone
    try:
        if by_version:
            comparison = q.versions(baseline_version, candidate_version)  # type: ignore[arg-type]
        elif by_range:
            ranges = [q.parse_range(text, tz) for text in (baseline_range, candidate_range)]  # type: ignore[arg-type]
            comparison = q.periods(ranges[0], ranges[1], utcnow())
        else:
            comparison = q.last_24_hours(utcnow())
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    if min_effect is None:
        min_effect = float(state.settings.report_min_effect)  # REPORT_MIN_EFFECT, in percent
    params = Params(min_effect=min_effect / 100, alpha=alpha, min_requests=min_requests)
    try:
        with state.store.read() as conn:
            result = q.report(conn, state.store.tables, comparison, params)
            present = q.versions_present(conn, state.store.tables) if result.outcome == "insufficient" else []
    except Exception as exc:  # a database that is down is no verdict: exit 2, never 1 ("regression")
        from ..instrument.batches import short_error

        raise ReportError(f"cannot read fmd's database: {short_error(exc)}") from None
    code = {"regression": REGRESSION, "ok": OK, "insufficient": TOO_FEW}[result.outcome]
    if fmt == "json":
        click.echo(json.dumps(as_json(result, comparison, code), indent=2))
    else:
        _text(result, comparison, code, present)
    click.get_current_context().exit(code)
