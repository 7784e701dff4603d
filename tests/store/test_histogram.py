"""Percentiles read from the fixed log-spaced buckets come within 2% of the exact ones."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from fmd.store import histogram
from fmd.store.histogram import bucket_of, lower_edge, percentile, quantiles

QS = (0.5, 0.75, 0.9, 0.95, 0.99)


def buckets(durations: np.ndarray) -> list[tuple[int, int]]:
    return list(Counter(bucket_of(float(d)) for d in durations).items())


def latency_samples(seed: int, n: int) -> dict[str, np.ndarray]:
    """Realistic request durations (seconds): lognormal, a two-mode mix (cache hits and misses), a slow tail."""
    rng = np.random.default_rng(seed)
    return {
        "lognormal fast": rng.lognormal(mean=np.log(0.004), sigma=0.6, size=n),
        "lognormal slow": rng.lognormal(mean=np.log(0.8), sigma=1.0, size=n),
        "cache hit/miss": np.concatenate([rng.lognormal(np.log(0.002), 0.3, n * 7 // 10),
                                          rng.lognormal(np.log(0.120), 0.5, n - n * 7 // 10)]),
        "heavy tail": rng.lognormal(np.log(0.05), 0.4, n) + rng.pareto(2.5, n) * 0.01,
    }


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("n", [1000, 20_000])
def test_percentiles_within_two_percent_of_numpy(seed: int, n: int) -> None:
    for name, data in latency_samples(seed, n).items():
        counts = buckets(data)
        from_buckets = quantiles(counts, QS)
        for q, estimate in zip(QS, from_buckets):
            exact = float(np.percentile(data, q * 100))
            assert estimate == pytest.approx(exact, rel=0.02), f"{name} n={n} p{q * 100:g}"
            assert percentile(counts, q) == pytest.approx(estimate)


def test_worst_case_error_is_half_a_bucket() -> None:
    # Every sample on one value: the estimate can only sit somewhere inside that value's bucket.
    for value in (0.0001234, 0.05, 3.7):
        estimate = percentile([(bucket_of(value), 1000)], 0.5)
        assert abs(estimate / value - 1) <= histogram.R - 1


def test_bucket_edges_contain_their_values() -> None:
    rng = np.random.default_rng(0)
    for value in np.concatenate([rng.lognormal(np.log(0.01), 3, 5000), [1e-6 * 1.0001, 0.001, 1.0, 60.0]]):
        b = bucket_of(float(value))
        if 0 < b < histogram.LAST:
            assert lower_edge(b) <= value * (1 + 1e-12) and value < lower_edge(b + 1) * (1 + 1e-12)
    assert histogram.R - 1 < 0.022  # ~2.2% wide buckets


def test_out_of_range_durations_are_clamped() -> None:
    assert bucket_of(0.0) == 0 and bucket_of(-1.0) == 0 and bucket_of(1e-9) == 0
    assert bucket_of(1e9) == histogram.LAST


def test_buckets_are_monotonic() -> None:
    values = np.sort(np.random.default_rng(5).lognormal(np.log(0.01), 2, 3000))
    indexes = [bucket_of(float(v)) for v in values]
    assert indexes == sorted(indexes)


def test_empty_and_extreme_quantiles() -> None:
    assert percentile([], 0.5) is None
    assert percentile([(10, 0)], 0.5) is None
    assert quantiles([], QS) is None
    counts = [(100, 5), (200, 5)]
    assert lower_edge(100) <= percentile(counts, 0.0) < lower_edge(101)  # the smallest value's bucket
    assert lower_edge(200) <= percentile(counts, 1.0) < lower_edge(201)  # the largest value's bucket
    assert percentile(counts, 0.5) <= percentile(counts, 0.51)
    # Between two values the quantile is interpolated, even for the last pair.
    two = [(100, 1), (200, 1)]
    assert lower_edge(101) < percentile(two, 0.5) < lower_edge(200)
    # Out-of-range q is clamped to 0..1, never read past the last (or before the first) value.
    assert percentile(counts, 1.5) == percentile(counts, 1.0) and percentile(counts, -0.5) == percentile(counts, 0.0)


def test_repeated_buckets_add_up_and_order_of_qs_does_not_matter() -> None:
    # Rows of several hours name the same bucket: they are one bucket with the summed count.
    split = [(300, 2), (310, 5), (300, 3)]
    assert quantiles(split, QS) == quantiles([(300, 5), (310, 5)], QS)
    assert quantiles(split, QS[::-1]) == quantiles(split, QS)[::-1]


def test_a_single_value_is_read_back_within_half_a_bucket() -> None:
    for value in (0.0003, 0.02, 1.5):
        assert percentile([(bucket_of(value), 1)], 0.5) == pytest.approx(value, rel=histogram.R ** 0.5 - 1)
