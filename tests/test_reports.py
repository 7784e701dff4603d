"""fmd.reports on constructed data: the U test from histograms against scipy on raw samples, Holm, the
error-rate tests, and verdicts where the answer is known (a regression, none, a significant but tiny change)."""

from __future__ import annotations

import random

import pytest
from scipy import stats

from fmd.reports import (Params, Side, compare, error_test, histogram_of, holm, mann_whitney)


def lognormal(n: int, median: float, seed: int, sigma: float = 0.5) -> list[float]:
    rnd = random.Random(seed)
    return [median * rnd.lognormvariate(0, sigma) for _ in range(n)]


def side(durations: list[float], errors: int = 0) -> Side:
    return Side(histogram_of(durations), len(durations), errors)


@pytest.mark.parametrize("shift", [1.0, 1.01, 1.03, 1.1, 1.5])
@pytest.mark.parametrize("sizes", [(40, 30), (400, 300), (3000, 5000)])
def test_u_from_histograms_matches_scipy_on_raw_samples(shift: float, sizes: tuple[int, int]) -> None:
    base, cand = lognormal(sizes[0], 0.05, 1), lognormal(sizes[1], 0.05 * shift, 2)
    ours = mann_whitney(histogram_of(base), histogram_of(cand))
    theirs = stats.mannwhitneyu(cand, base, alternative="two-sided", method="asymptotic")
    n1n2 = sizes[0] * sizes[1]
    # U moves only by pairs that fall in one 2.2% bucket (counted half instead of 0 or 1).
    assert abs(ours.u - theirs.statistic) / n1n2 < 0.005
    assert ours.p == pytest.approx(theirs.pvalue, rel=0.15, abs=1e-3)
    assert ours.prob_slower == pytest.approx(theirs.statistic / n1n2, abs=0.005)


def test_u_on_heavy_ties_matches_scipy_exactly() -> None:
    # Durations that sit on few distinct values: bucketing changes nothing, so U and p must be scipy's.
    rnd = random.Random(3)
    levels = [0.010, 0.020, 0.040, 0.080]
    base = [rnd.choice(levels) for _ in range(500)]
    cand = [rnd.choice(levels[1:]) for _ in range(400)]
    ours = mann_whitney(histogram_of(base), histogram_of(cand))
    theirs = stats.mannwhitneyu(cand, base, alternative="two-sided", method="asymptotic")
    assert ours.u == theirs.statistic
    assert ours.p == pytest.approx(theirs.pvalue, rel=1e-9)


def test_u_degenerate_and_huge_inputs() -> None:
    assert mann_whitney({7: 30}, {7: 50}).p == 1.0  # everything in one bucket: no evidence
    with pytest.raises(ValueError):
        mann_whitney({}, {3: 1})
    # Ten million requests a side: integers all the way, no overflow, an obvious shift found.
    big = mann_whitney({100: 5_000_000, 101: 5_000_000}, {100: 4_900_000, 101: 5_100_000})
    assert 0 < big.p < 1e-100 or big.p == 0.0
    assert big.prob_slower > 0.5


def test_holm_matches_the_textbook_example() -> None:
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([]) == []
    assert holm([0.9, 0.4]) == pytest.approx([0.9, 0.8]) and holm([0.9, 0.8]) == [1.0, 1.0]  # monotone, capped


def test_error_rates_use_fisher_for_small_counts_and_a_z_test_otherwise() -> None:
    p, method = error_test(0, 30, 4, 30)
    assert method == "fisher"
    assert p == pytest.approx(stats.fisher_exact([[0, 30], [4, 26]])[1])
    p, method = error_test(50, 1000, 90, 1000)
    assert method == "z"
    table = [[50, 950], [90, 910]]
    chi2 = stats.chi2_contingency(table, correction=False)[1]  # the pooled z-test is this chi-square test
    assert p == pytest.approx(chi2, rel=1e-6)
    assert error_test(0, 100, 0, 100) == (1.0, "none")


def test_a_known_regression_is_flagged_with_a_small_p() -> None:
    base = {"a": side(lognormal(500, 0.05, 1)), "b": side(lognormal(500, 0.02, 2))}
    cand = {"a": side(lognormal(500, 0.065, 3)), "b": side(lognormal(500, 0.02, 4))}
    report = compare(base, cand, {"a": "api.a", "b": "api.b"})
    assert [e.name for e in report.regressions] == ["api.a"]
    a = report.regressions[0]
    assert a.p_duration < 1e-6 and a.median_change == pytest.approx(0.3, abs=0.1)
    assert a.reasons[0].startswith("median +") and report.outcome == "regression"
    assert report.endpoints[1].verdict == "unchanged"


def test_an_improvement_is_listed_after_regressions() -> None:
    base = {"fast": side(lognormal(300, 0.1, 1)), "slow": side(lognormal(300, 0.1, 2))}
    cand = {"fast": side(lognormal(300, 0.05, 3)), "slow": side(lognormal(300, 0.2, 4))}
    report = compare(base, cand)
    assert [(e.key, e.verdict) for e in report.endpoints] == [("slow", "regression"), ("fast", "improvement")]


def test_no_change_across_many_endpoints_flags_nothing_thanks_to_holm() -> None:
    # 60 endpoints, identical distributions: unadjusted, ~3 would come out below 0.05 by chance.
    base = {i: side(lognormal(200, 0.05, 1000 + i)) for i in range(60)}
    cand = {i: side(lognormal(200, 0.05, 2000 + i)) for i in range(60)}
    report = compare(base, cand)
    raw = [e.utest.p for e in report.endpoints]
    assert report.decided == 60 and report.regressions == [] and report.outcome == "ok"
    assert all(e.verdict == "unchanged" for e in report.endpoints)
    assert min(e.p_duration for e in report.endpoints) == pytest.approx(min(1.0, min(raw) * 60))  # smallest times m
    assert any(p < 0.05 for p in raw)  # what Holm protects against really happened here


def test_a_significant_but_tiny_change_is_not_flagged() -> None:
    # 4% slower on 20,000 requests a side: p is tiny, the effect below the 10% minimum.
    base = {"a": side(lognormal(20_000, 0.05, 1, sigma=0.3))}
    cand = {"a": side(lognormal(20_000, 0.052, 2, sigma=0.3))}
    report = compare(base, cand)
    a = report.endpoints[0]
    assert a.p_duration < 1e-10 and 0.02 < a.median_change < 0.06
    assert a.verdict == "unchanged" and "less than 10%" in a.reasons[0]
    assert compare(base, cand, params=Params(min_effect=0.02)).endpoints[0].verdict == "regression"


def test_error_rate_regression_is_flagged_even_when_durations_stay() -> None:
    durations = lognormal(400, 0.05, 1)
    report = compare({"a": side(durations, errors=2)}, {"a": side(durations, errors=40)})
    a = report.endpoints[0]
    assert a.verdict == "regression" and a.error_method == "z" and a.p_errors < 1e-6
    assert a.reasons == ["errors +9.5 points"]
    small = compare({"a": side(durations[:30], errors=0)}, {"a": side(durations[:30], errors=9)}).endpoints[0]
    assert small.error_method == "fisher" and small.verdict == "regression"


def test_too_few_requests_is_insufficient_and_decides_nothing() -> None:
    base = {"a": side(lognormal(19, 0.05, 1)), "b": side(lognormal(500, 0.05, 2))}
    cand = {"a": side(lognormal(500, 0.5, 3)), "c": side(lognormal(500, 0.05, 4))}
    report = compare(base, cand, {"a": "A", "b": "B", "c": "C"})
    assert [e.verdict for e in report.endpoints] == ["insufficient"] * 3
    assert report.decided == 0 and report.outcome == "insufficient"
    assert "fewer than 20 requests" in report.endpoints[0].reasons[0]
    assert compare(base, cand, params=Params(min_requests=10)).outcome == "regression"


def test_traffic_compares_per_hour_for_periods_of_different_lengths() -> None:
    base = {"a": side(lognormal(240, 0.05, 1))}
    cand = {"a": side(lognormal(120, 0.05, 2))}
    assert compare(base, cand, baseline_hours=24, candidate_hours=12).endpoints[0].traffic_change == 0
    assert compare(base, cand).endpoints[0].traffic_change == pytest.approx(-0.5)
