"""Exact order statistics and a decade histogram of non-negative float32 values, without sorting.

Non-negative float32 values order like their int32 bit patterns, so a count of the top 12 bits
(sign, exponent, 3 mantissa bits: buckets 12.5% wide) per value finds the bucket holding the k-th
smallest value; only the values in the few buckets needed are then gathered (one chunked pass) and
partitioned. The bucket count is small enough that counting stays in L1 cache.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from trtdiff.measure import small
from trtdiff.result import HISTOGRAM_DECADES

BUCKET_SHIFT = 20  # keep the top 12 bits of the float32 bit pattern
FINE_BUCKETS = 1 << 11  # the sign bit of a non-negative float32 is 0
_PIECE = 1 << 17
_DECADE_EDGES = np.array([10.0**d for d in HISTOGRAM_DECADES], dtype=np.float32)
_EDGE_BUCKETS = _DECADE_EDGES.view(np.int32) >> BUCKET_SHIFT
EDGE_BITS = np.full(FINE_BUCKETS, -1, dtype=np.int32)  # per bucket: the bits of the decade edge inside it
EDGE_BITS[_EDGE_BUCKETS] = _DECADE_EDGES.view(np.int32)
_HISTOGRAM_BIN = 1 + np.searchsorted(_EDGE_BUCKETS, np.arange(FINE_BUCKETS), side="left")  # per bucket


def bucket_counts(values: np.ndarray) -> np.ndarray:
    """Row 0: how many of `values` (non-negative float32) fall in each fine bucket; row 1: how
    many of those are at or below the decade edge inside the bucket (the kernel's layout)."""
    counts = np.zeros((2, FINE_BUCKETS), dtype=np.int64)
    if values.size > small.SMALL:  # the compiled pass: one read of the values instead of numpy's four
        from trtdiff.measure.kernel import count_buckets

        count_buckets(np.ascontiguousarray(values, dtype=np.float32), counts, EDGE_BITS, BUCKET_SHIFT)
        return counts
    bits = values.view(np.int32)
    for start in range(0, bits.size, _PIECE):
        piece = bits[start:start + _PIECE]
        buckets = piece >> BUCKET_SHIFT
        counts[0] += np.bincount(buckets, minlength=FINE_BUCKETS)
        counts[1] += np.bincount(buckets[piece <= EDGE_BITS[buckets]], minlength=FINE_BUCKETS)
    return counts


def gather_buckets(values: np.ndarray, buckets: Iterable[int], counts: np.ndarray) -> dict[int, np.ndarray]:
    """The members of each listed bucket (`counts`: values per bucket), in one pass over `values`."""
    wanted = sorted(set(buckets))
    if not wanted:
        return {}
    if values.size <= small.SMALL:  # numpy, as fast here as the kernel, which it need not load
        flat = np.ascontiguousarray(values, dtype=np.float32)
        buckets_of = flat.view(np.int32) >> BUCKET_SHIFT
        return {b: flat[buckets_of == b] for b in wanted}
    from trtdiff.measure.kernel import select

    slots = np.full(FINE_BUCKETS, -1, dtype=np.int64)
    slots[wanted] = np.arange(len(wanted))
    sizes = counts[wanted].astype(np.int64)
    members = select(np.ascontiguousarray(values, dtype=np.float32), slots, BUCKET_SHIFT, sizes)
    ends = np.cumsum(sizes)
    return {b: members[end - size:end] for b, size, end in zip(wanted, sizes, ends)}


class ErrorDistribution:
    """Quantiles and the decade histogram of a set of non-negative float32 errors.

    `counts` (bucket counts in `bucket_counts`' layout) and `zeros` (how many values are exactly
    0) may come from the pass that produced the values; zeros are the smallest values, so order
    statistics below `zeros` and the histogram's zero bin need no look at the data. The histogram
    needs only the counts; a quantile needs the members of the one bucket that holds it."""

    def __init__(self, values: np.ndarray, counts: np.ndarray | None = None, zeros: int | None = None) -> None:
        self._values = values
        counts = bucket_counts(values) if counts is None else counts
        self._counts, self._at_or_below_edge = counts[0], counts[1]
        self._zeros = int(values.size - np.count_nonzero(values)) if zeros is None else zeros
        self._cumulative = np.cumsum(self._counts)

    def summary(self, qs: tuple[float, ...]) -> tuple[list[float], np.ndarray]:
        """(quantiles with numpy's 'linear' interpolation, decade histogram)."""
        return self.quantiles(qs), self.histogram()

    def quantiles(self, qs: tuple[float, ...]) -> list[float]:
        """Quantiles with numpy's 'linear' interpolation (NaN when there are no values)."""
        n = self._values.size
        ranks = self._ranks(qs, n)
        statistics = self._order_statistics({k for pair in ranks for k in pair})
        return [self._interpolate(statistics, pair, q, n) for pair, q in zip(ranks, qs)]

    @staticmethod
    def _ranks(qs: tuple[float, ...], n: int) -> list[tuple[int, ...]]:
        if n == 0:
            return [() for _ in qs]
        ranks = []
        for q in qs:
            low = int(math.floor(q * (n - 1)))
            ranks.append((low, min(low + 1, n - 1)))
        return ranks

    def _order_statistics(self, ranks: set[int]) -> dict[int, float]:
        """The k-th smallest value for each k in `ranks`: one gather pass over the values for the
        buckets holding them, then a partition per rank, except that the (k+1)-th smallest is the
        least of what a partition at k left above it (how numpy's quantile does it)."""
        statistics = {k: 0.0 for k in ranks if k < self._zeros}
        by_bucket: dict[int, list[int]] = {}
        for k in sorted(ranks - set(statistics)):
            by_bucket.setdefault(int(np.searchsorted(self._cumulative, k, side="right")), []).append(k)
        members = gather_buckets(self._values, by_bucket, self._counts)
        for bucket, ks in by_bucket.items():
            below = int(self._cumulative[bucket - 1]) if bucket else 0
            ordered, partitioned_at = members[bucket], None
            for i in (k - below for k in ks):
                if partitioned_at is not None and i == partitioned_at + 1:
                    statistics[i + below] = float(ordered[i:].min())
                    partitioned_at = None
                else:
                    ordered = np.partition(members[bucket], i)
                    statistics[i + below], partitioned_at = float(ordered[i]), i
        return statistics

    @staticmethod
    def _interpolate(statistics: dict[int, float], pair: tuple[int, ...], q: float, n: int) -> float:
        if not pair:
            return math.nan
        low, high = pair
        fraction = q * (n - 1) - low
        if high == low or fraction == 0:
            return statistics[low]  # also when the next value is inf (inf * 0 would be NaN)
        a, b = statistics[low], statistics[high]
        if fraction >= 0.5 and math.isfinite(b - a):  # numpy's lerp, to the last bit: from the upper end
            return b - (b - a) * (1 - fraction)
        return a + (b - a) * fraction

    def histogram(self) -> np.ndarray:
        """Bins: exactly 0, then (10^(d-1), 10^d] per decade, then above 10^5. Bucket 0 holds the
        zeros and subnormals below 2^-129 (all in the first decade bin); a bucket that straddles a
        power of ten is split by its count of values at or below the edge."""
        size = len(_DECADE_EDGES) + 2
        result = np.bincount(_HISTOGRAM_BIN, weights=self._counts, minlength=size)
        above = self._counts[_EDGE_BUCKETS] - self._at_or_below_edge[_EDGE_BUCKETS]
        edge = np.arange(len(_EDGE_BUCKETS))
        result[1 + edge] -= above  # an edge bucket's values above its edge belong in the next bin
        result[2 + edge] += above
        result[1] -= self._zeros  # bucket 0 counted in the first decade bin; its zeros belong in bin 0
        result[0] += self._zeros
        return result.astype(np.int64)
