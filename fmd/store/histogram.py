"""Fixed log-spaced duration buckets, and percentiles read back from bucket counts.

Contract: bucket ``i`` holds durations in ``[MIN * R**i, MIN * R**(i+1))`` with ``R = 2**(1/32)`` (each
bucket ~2.2% wide), bucket 0 also everything below ``MIN``, the last also everything above.

Reading a quantile follows numpy's default ("linear") definition on the order statistics: the q-quantile of n
values sits at rank ``h = (n-1)q``, between order statistics ``floor(h)`` and ``floor(h)+1``. Each order
statistic is placed inside its bucket as if the bucket's c values were spread evenly in log space (the j-th
at fraction ``(j+0.5)/c``). Dense buckets are then almost exact; a lone value in a sparse tail is off by at
most half a bucket (1.1%). Measured on lognormal and mixed latency data (tests/store/test_histogram.py):
within 1.6% of ``numpy.percentile`` for p50..p99 from 1,000 samples, within 1.2% from 5,000.

Why 32 buckets per doubling, not 16: with 16 (4.4% wide) a p99 of 1,000 samples, read from the sparse tail,
was up to 2.9% off. The price is ~45% more hourly and ~75% more daily histogram rows on the demo traffic.

Pure functions of plain numbers: no database, no Flask. The same buckets are used by the writer, the demo
seeder and every query, so all of them agree. Changing PER_OCTAVE or MIN changes the meaning of stored rows.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from typing import Iterable, Sequence

#: Buckets per doubling of the duration.
PER_OCTAVE = 32
#: Lower edge of bucket 1 (seconds); anything faster falls in bucket 0.
MIN = 1e-6
#: 1 µs .. ~19 hours.
OCTAVES = 36
LAST = PER_OCTAVE * OCTAVES - 1
R = 2 ** (1 / PER_OCTAVE)
_SCALE = PER_OCTAVE / math.log(2)
_LOG_MIN = math.log(MIN)


def bucket_of(seconds: float) -> int:
    """The bucket holding a duration."""
    if seconds <= MIN:
        return 0
    index = int((math.log(seconds) - _LOG_MIN) * _SCALE)
    return index if index < LAST else LAST


def lower_edge(bucket: int) -> float:
    """The smallest duration of *bucket* (seconds)."""
    return MIN * R ** bucket


def percentile(counts: Iterable[tuple[int, int]], q: float) -> float | None:
    """The q-quantile (0..1) of the durations summarised by (bucket, count) pairs; None when empty."""
    found = quantiles(counts, [q])
    return None if found is None else found[0]


def quantiles(counts: Iterable[tuple[int, int]], qs: Sequence[float]) -> list[float] | None:
    """Several quantiles (0..1, any order) of (bucket, count) pairs; None when empty.

    A bucket may appear more than once (e.g. rows of several hours): its counts are added.
    """
    merged: dict[int, int] = {}
    for bucket, count in counts:
        if count > 0:
            merged[bucket] = merged.get(bucket, 0) + count
    if not merged:
        return None
    pairs = sorted(merged.items())
    starts = []  # rank of each bucket's first value
    total = 0
    for _, count in pairs:
        starts.append(total)
        total += count

    def order_statistic(k: int) -> float:
        i = bisect_right(starts, k) - 1
        bucket, count = pairs[i]
        return lower_edge(bucket) * R ** ((k - starts[i] + 0.5) / count)

    out = []
    for q in qs:
        h = (total - 1) * min(max(q, 0.0), 1.0)
        k = int(h)
        value = order_statistic(k)
        if h > k and k + 1 < total:
            value += (h - k) * (order_statistic(k + 1) - value)
        out.append(value)
    return out
