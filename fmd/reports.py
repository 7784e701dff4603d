"""Performance reports: two sides (periods or versions) per endpoint in, a verdict per endpoint out.

Contract. Each side of an endpoint is a ``Side``: a duration histogram over ``fmd.store.histogram``'s
log-spaced buckets (bucket -> count), its request count and its error count (status >= 500). No raw
durations are needed, so a report costs the same at ten million requests and after retention pruned the raw
rows. Pure functions of plain numbers: no database, no Flask. scipy is imported inside ``error_test`` only,
when a small error count needs Fisher's exact test, never at import.

Durations: a two-sided Mann-Whitney U test computed from the two bucket-count vectors. Values in one bucket
(~2.2% wide) are treated as ties: a candidate value counts 1 for every baseline value in a lower bucket and
1/2 for every one in its own bucket. The p-value is the normal approximation with the tie correction and a
continuity correction of 1/2 (what ``scipy.stats.mannwhitneyu(method="asymptotic")`` computes on raw values);
bucketing only merges values closer than 2.2%, so on real latencies the p-value stays close to the raw one
(``tests/test_reports.py`` checks it against scipy). The approximation needs a few dozen values per side:
an endpoint with fewer than ``min_requests`` (default 20) requests on either side is not tested at all and
is reported as "insufficient", instead of leaning on an exact small-sample test that the ties of bucketed
data would make inexact anyway.

Several endpoints are compared at once, so the U tests' p-values are adjusted with Holm's step-down method
(family-wise error rate ``alpha``, default 0.05) over the endpoints tested; the error-rate tests form a
second family, adjusted the same way. A significant change is a regression or an improvement only when it is
also large enough to matter: the median moved by at least ``min_effect`` (default 10%), and in the direction
the U test found; an error rate moved by at least ``min_error_change`` (default half a percentage point).

Error rates: a two-proportion z-test (pooled), or Fisher's exact test when an expected cell count is below 5.
Traffic: the change in requests per hour (or in requests, for two versions); shown, not tested.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Hashable, Mapping, Sequence

from .store.histogram import bucket_of, quantiles

#: Fewest requests on each side for an endpoint to be tested.
MIN_REQUESTS = 20
#: Smallest relative change of the median that counts as a regression or improvement.
MIN_EFFECT = 0.10
#: Family-wise error rate of each family of tests (Holm).
ALPHA = 0.05
#: Smallest change of the error rate (absolute, 0.005 = half a percentage point) that counts.
MIN_ERROR_CHANGE = 0.005
#: Below this expected count in any cell of the 2x2 table, Fisher's exact test replaces the z-test.
FISHER_BELOW = 5

#: Verdicts, in the order a report lists them.
VERDICTS = ("regression", "improvement", "unchanged", "insufficient")

Histogram = Mapping[int, int]


@dataclass(frozen=True)
class Side:
    """One side of one endpoint: durations (bucket -> count), requests and errors (status >= 500)."""

    hist: Histogram
    requests: int
    errors: int = 0


def histogram_of(durations: Sequence[float]) -> dict[int, int]:
    """The bucket counts of raw durations (seconds), as the writer would store them."""
    out: dict[int, int] = {}
    for seconds in durations:
        b = bucket_of(seconds)
        out[b] = out.get(b, 0) + 1
    return out


def _normal_sf(z: float) -> float:
    """P(Z > z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


@dataclass(frozen=True)
class UTest:
    """A Mann-Whitney U test of the candidate against the baseline."""

    u: float  #: U of the candidate: pairs where it is slower, ties counted half
    z: float
    p: float  #: two-sided, not adjusted
    #: P(a candidate request is slower than a baseline one), ties counted half: 0.5 means no shift.
    prob_slower: float


def mann_whitney(baseline: Histogram, candidate: Histogram) -> UTest:
    """Two-sided U test from two histograms over the same buckets (normal approximation, tie-corrected)."""
    n1 = sum(c for c in candidate.values() if c > 0)
    n2 = sum(c for c in baseline.values() if c > 0)
    if n1 == 0 or n2 == 0:
        raise ValueError("both sides need at least one duration")
    u2 = 0  # twice U, kept in integers so that ten million requests lose no precision
    below = 0  # baseline values in lower buckets
    ties = 0  # sum of t**3 - t over the buckets
    for bucket in sorted(set(baseline) | set(candidate)):
        a, c = max(baseline.get(bucket, 0), 0), max(candidate.get(bucket, 0), 0)
        u2 += c * (2 * below + a)
        below += a
        t = a + c
        ties += t * t * t - t
    u = u2 / 2
    n = n1 + n2
    mean = n1 * n2 / 2
    var = n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1))) if n > 1 else 0.0
    if var <= 0:  # every value in one bucket: nothing to tell the sides apart
        return UTest(u, 0.0, 1.0, 0.5)
    # As scipy: the larger of U and n1*n2 - U, less a continuity correction of 1/2.
    z = (max(u, n1 * n2 - u) - mean - 0.5) / math.sqrt(var)
    p = min(1.0, 2 * _normal_sf(z)) if z > 0 else 1.0
    return UTest(u, math.copysign(abs(z), u - mean), p, u / (n1 * n2))


def error_test(base_errors: int, base_n: int, cand_errors: int, cand_n: int) -> tuple[float, str]:
    """Two-sided p-value that the error rates differ, and the test used ("fisher", "z" or "none")."""
    if base_n <= 0 or cand_n <= 0:
        raise ValueError("both sides need requests")
    total_errors = base_errors + cand_errors
    if total_errors == 0 or total_errors == base_n + cand_n:
        return 1.0, "none"  # no errors (or only errors) on both sides: nothing differs
    n = base_n + cand_n
    expected = [rows * cols / n for rows in (base_n, cand_n) for cols in (total_errors, n - total_errors)]
    if min(expected) < FISHER_BELOW:
        from scipy.stats import fisher_exact  # ~1 s and ~70 MB: only when a report needs it

        table = [[base_errors, base_n - base_errors], [cand_errors, cand_n - cand_errors]]
        return float(fisher_exact(table, alternative="two-sided")[1]), "fisher"
    pooled = total_errors / n
    se = math.sqrt(pooled * (1 - pooled) * (1 / base_n + 1 / cand_n))
    z = abs(cand_errors / cand_n - base_errors / base_n) / se
    return min(1.0, 2 * _normal_sf(z)), "z"


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def _change(before: float | None, after: float | None) -> float | None:
    """Relative change (0.1 = +10%); None when it cannot be told."""
    if before is None or after is None or before <= 0:
        return None
    return after / before - 1


@dataclass(frozen=True)
class Stats:
    """What a report shows of one side of one endpoint."""

    requests: int
    errors: int
    median: float | None  #: seconds
    p95: float | None  #: seconds
    #: Requests the durations cover (fewer than *requests* when hourly histograms were pruned at an edge).
    measured: int

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None


def _stats(side: Side | None) -> Stats:
    if side is None:
        return Stats(0, 0, None, None, 0)
    qs = quantiles(side.hist.items(), [0.5, 0.95])
    return Stats(side.requests, side.errors, qs[0] if qs else None, qs[1] if qs else None,
                 sum(c for c in side.hist.values() if c > 0))


@dataclass
class EndpointReport:
    """One endpoint's comparison. Changes are relative (0.1 = +10%), error_change absolute."""

    key: Hashable
    name: str
    baseline: Stats
    candidate: Stats
    verdict: str = "insufficient"
    reasons: list[str] = field(default_factory=list)
    median_change: float | None = None
    p95_change: float | None = None
    traffic_change: float | None = None
    error_change: float | None = None
    utest: UTest | None = None
    p_duration: float | None = None  #: Holm-adjusted
    p_errors_raw: float | None = None
    p_errors: float | None = None  #: Holm-adjusted
    error_method: str | None = None

    @property
    def tested(self) -> bool:
        return self.verdict != "insufficient"


@dataclass(frozen=True)
class Params:
    """The thresholds a report was computed with."""

    min_effect: float = MIN_EFFECT
    alpha: float = ALPHA
    min_requests: int = MIN_REQUESTS
    min_error_change: float = MIN_ERROR_CHANGE


@dataclass
class Report:
    """Every endpoint's comparison, regressions first, then improvements, unchanged, insufficient."""

    endpoints: list[EndpointReport]
    params: Params

    def by_verdict(self, verdict: str) -> list[EndpointReport]:
        return [e for e in self.endpoints if e.verdict == verdict]

    @property
    def regressions(self) -> list[EndpointReport]:
        return self.by_verdict("regression")

    @property
    def decided(self) -> int:
        """Endpoints with enough requests on both sides to be tested."""
        return sum(1 for e in self.endpoints if e.tested)

    @property
    def outcome(self) -> str:
        """"regression" (one or more), "insufficient" (no endpoint could be tested) or "ok"."""
        if self.regressions:
            return "regression"
        return "ok" if self.decided else "insufficient"


def compare(baseline: Mapping[Hashable, Side], candidate: Mapping[Hashable, Side],
            names: Mapping[Hashable, str] | None = None, *, params: Params = Params(),
            baseline_hours: float | None = None, candidate_hours: float | None = None) -> Report:
    """Compare every endpoint present on either side.

    *baseline_hours* / *candidate_hours*: the lengths of two periods, so traffic compares per hour; leave
    them out for two versions (traffic then compares the request counts).
    """
    names = names or {}
    rows: list[EndpointReport] = []
    for key in set(baseline) | set(candidate):
        b, c = baseline.get(key), candidate.get(key)
        row = EndpointReport(key, names.get(key, str(key)), _stats(b), _stats(c))
        row.median_change = _change(row.baseline.median, row.candidate.median)
        row.p95_change = _change(row.baseline.p95, row.candidate.p95)
        scale = (baseline_hours / candidate_hours) if baseline_hours and candidate_hours else 1.0
        row.traffic_change = _change(row.baseline.requests, row.candidate.requests * scale)
        rates = row.baseline.error_rate, row.candidate.error_rate
        row.error_change = None if None in rates else rates[1] - rates[0]  # type: ignore[operator]
        small = min(row.baseline.measured, row.candidate.measured, row.baseline.requests, row.candidate.requests)
        if small < params.min_requests:
            row.reasons.append(f"fewer than {params.min_requests} requests on a side")
        else:
            row.verdict = "unchanged"
            row.utest = mann_whitney(b.hist, c.hist)  # type: ignore[union-attr]
            row.p_errors_raw, row.error_method = error_test(b.errors, b.requests, c.errors, c.requests)  # type: ignore[union-attr]
        rows.append(row)
    tested = [r for r in rows if r.tested]
    for r, p in zip(tested, holm([r.utest.p for r in tested])):  # type: ignore[union-attr]
        r.p_duration = p
    for r, p in zip(tested, holm([r.p_errors_raw for r in tested])):  # type: ignore[misc]
        r.p_errors = p
    for r in tested:
        _judge(r, params)
    rank = {v: i for i, v in enumerate(VERDICTS)}
    # Within a verdict the biggest median change first (slowest regressions, best improvements).
    rows.sort(key=lambda r: (rank[r.verdict], -abs(r.median_change or 0.0), r.name))
    return Report(rows, params)


def _judge(r: EndpointReport, params: Params) -> None:
    """Set the verdict and its reasons from the adjusted p-values and the effect sizes."""
    worse, better = [], []
    change, u = r.median_change, r.utest
    if u is not None and r.p_duration is not None and r.p_duration < params.alpha and change is not None:
        if change >= params.min_effect and u.prob_slower > 0.5:
            worse.append(f"median {change:+.0%}")
        elif change <= -params.min_effect and u.prob_slower < 0.5:
            better.append(f"median {change:+.0%}")
        else:
            r.reasons.append(f"durations differ (p={r.p_duration:.2g}) but the median moved {change:+.1%}, "
                             f"less than {params.min_effect:.0%}")
    err = r.error_change
    if r.p_errors is not None and r.p_errors < params.alpha and err is not None:
        if err >= params.min_error_change:
            worse.append(f"errors {err * 100:+.1f} points")
        elif err <= -params.min_error_change:
            better.append(f"errors {err * 100:+.1f} points")
    if worse:
        r.verdict, r.reasons = "regression", worse + [f"but {x}" for x in better] + r.reasons
    elif better:
        r.verdict, r.reasons = "improvement", better + r.reasons
