"""Quantiles of errors over many samples, from mergeable bucket counts.

The errors of one sample are gone once it is compared, so quantiles over all samples come from
counts: each error (float32, non-negative) is counted in the bucket of the top 16 bits of its bit
pattern, 128 buckets per power of two. A quantile is read back as the midpoint of the bucket that
holds it, so it lies within 2^-8 (0.39%) of the exact order statistic (for values below 2^-126,
within 2^-134 absolutely); exactly-zero errors are counted apart and come back exact. Counts are
kept for the window of buckets the errors span (a few thousand), and two windows merge by adding.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from trtdiff.measure.quantiles import BUCKET_SHIFT
from trtdiff.measure import small

FINE_SHIFT = 16  # keep the top 16 bits: sign (0), 8 exponent bits, 7 mantissa bits
_PER_COARSE = 1 << (BUCKET_SHIFT - FINE_SHIFT)
RELATIVE_BOUND = 2.0**-8


@dataclass
class FineCounts:
    start: int  # the first bucket of the window
    counts: np.ndarray  # int64, one per bucket from `start`

    @classmethod
    def of(cls, errors: np.ndarray, coarse: np.ndarray) -> FineCounts:
        """Counts of `errors` (finite, non-negative float32); `coarse` is the comparison pass's
        count per 12-bit bucket, which tells the window the errors span."""
        occupied = np.flatnonzero(coarse)
        if occupied.size == 0:
            return cls(0, np.zeros(0, np.int64))
        start, stop = int(occupied[0]) * _PER_COARSE, (int(occupied[-1]) + 1) * _PER_COARSE
        counts = np.zeros(stop - start, np.int64)
        values = np.ascontiguousarray(errors, dtype=np.float32)
        if values.size <= small.SMALL:  # numpy, as fast here as the kernel, which it need not load
            counts += np.bincount((values.view(np.int32) >> FINE_SHIFT) - start, minlength=counts.size)
        else:
            from trtdiff.measure.kernel import count_window

            count_window(values, FINE_SHIFT, start, counts)
        return cls(start, counts)

    def merge(self, other: FineCounts) -> None:
        """Add `other`'s counts, widening the window to hold both."""
        if other.counts.size == 0:
            return
        if self.counts.size == 0:
            self.start, self.counts = other.start, other.counts.copy()
            return
        start = min(self.start, other.start)
        stop = max(self.start + self.counts.size, other.start + other.counts.size)
        if (start, stop) != (self.start, self.start + self.counts.size):
            wider = np.zeros(stop - start, np.int64)
            wider[self.start - start:self.start - start + self.counts.size] = self.counts
            self.start, self.counts = start, wider
        self.counts[other.start - self.start:other.start - self.start + other.counts.size] += other.counts

    def quantiles(self, qs: Sequence[float], zeros: int, largest: float) -> list[float]:
        """numpy 'linear' quantiles of the counted errors, each order statistic read as its bucket's
        midpoint (never above `largest`, the exact maximum); NaN when nothing was counted."""
        n = int(self.counts.sum())
        if n == 0:
            return [math.nan for _ in qs]
        cumulative = np.cumsum(self.counts)
        results = []
        for q in qs:
            low = int(math.floor(q * (n - 1)))
            high = min(low + 1, n - 1)
            fraction = q * (n - 1) - low
            low_value = self._order_statistic(low, cumulative, zeros, largest)
            if fraction == 0 or high == low:
                results.append(low_value)
                continue
            high_value = self._order_statistic(high, cumulative, zeros, largest)
            results.append(low_value + (high_value - low_value) * fraction)
        return results

    def _order_statistic(self, rank: int, cumulative: np.ndarray, zeros: int, largest: float) -> float:
        if rank < zeros:
            return 0.0
        bucket = self.start + int(np.searchsorted(cumulative, rank, side="right"))
        edges = np.array([bucket << FINE_SHIFT, (bucket + 1) << FINE_SHIFT], dtype=np.int64).astype(np.int32)
        low, high = (float(v) for v in edges.view(np.float32))
        return min((low + high) / 2, largest)
