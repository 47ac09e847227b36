"""Exact order statistics and a decade histogram of non-negative float32 values, without sorting.

Non-negative float32 values order like their int32 bit patterns, so a count of the top 16 bits
(sign, exponent, 7 mantissa bits) per value finds the bucket holding the k-th smallest value;
only the values in the few buckets needed are then gathered (one chunked pass) and partitioned.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from trtdiff.result import HISTOGRAM_DECADES

FINE_BUCKETS = 1 << 15  # top 16 bits of a non-negative float32 (the sign bit is 0)
_PIECE = 1 << 16
_DECADE_EDGES = np.array([10.0**d for d in HISTOGRAM_DECADES], dtype=np.float32)
_EDGE_BUCKETS = _DECADE_EDGES.view(np.int32) >> 16


def bucket_counts(values: np.ndarray) -> np.ndarray:
    """How many of `values` (non-negative float32) fall in each fine bucket."""
    counts = np.zeros(FINE_BUCKETS, dtype=np.int64)
    bits = values.view(np.int32)
    for start in range(0, bits.size, _PIECE):
        counts += np.bincount(bits[start:start + _PIECE] >> 16, minlength=FINE_BUCKETS)
    return counts


def gather_buckets(values: np.ndarray, buckets: Iterable[int]) -> dict[int, np.ndarray]:
    """The members of each listed bucket, in one chunked pass over `values`."""
    wanted = sorted(set(buckets))
    if not wanted:
        return {}
    lookup = np.zeros(FINE_BUCKETS, dtype=bool)
    lookup[wanted] = True
    pieces: list[np.ndarray] = []
    bits = values.view(np.int32)
    for start in range(0, bits.size, _PIECE):
        piece = values[start:start + _PIECE]
        selected = piece[lookup[bits[start:start + _PIECE] >> 16]]
        if selected.size:
            pieces.append(selected)
    members = np.concatenate(pieces) if pieces else np.empty(0, dtype=np.float32)
    member_buckets = members.view(np.int32) >> 16
    return {b: members[member_buckets == b] for b in wanted}


class ErrorDistribution:
    """Quantiles and the decade histogram of a set of non-negative float32 errors."""

    def __init__(self, values: np.ndarray, counts: np.ndarray | None = None) -> None:
        self._values = values
        self._counts = bucket_counts(values) if counts is None else counts
        self._cumulative = np.cumsum(self._counts)

    def summary(self, qs: tuple[float, ...]) -> tuple[list[float], np.ndarray]:
        """(quantiles with numpy's 'linear' interpolation, decade histogram)."""
        n = self._values.size
        ranks = self._ranks(qs, n)
        needed = {self._bucket_of(k) for pair in ranks for k in pair}
        needed |= set(int(b) for b in _EDGE_BUCKETS if self._counts[b] > 0)
        if self._counts[0]:
            needed.add(0)
        members = gather_buckets(self._values, needed)
        values = [self._quantile(members, pair, q, n) for pair, q in zip(ranks, qs)]
        return values, self._histogram(members)

    @staticmethod
    def _ranks(qs: tuple[float, ...], n: int) -> list[tuple[int, ...]]:
        if n == 0:
            return [() for _ in qs]
        ranks = []
        for q in qs:
            low = int(math.floor(q * (n - 1)))
            ranks.append((low, min(low + 1, n - 1)))
        return ranks

    def _bucket_of(self, k: int) -> int:
        return int(np.searchsorted(self._cumulative, k, side="right"))

    def _order_statistic(self, members: dict[int, np.ndarray], k: int) -> float:
        bucket = self._bucket_of(k)
        below = int(self._cumulative[bucket - 1]) if bucket else 0
        return float(np.partition(members[bucket], k - below)[k - below])

    def _quantile(self, members: dict[int, np.ndarray], pair: tuple[int, ...], q: float, n: int) -> float:
        if not pair:
            return math.nan
        low, high = pair
        low_value = self._order_statistic(members, low)
        position = q * (n - 1)
        if high == low or position == low:
            return low_value
        high_value = self._order_statistic(members, high)
        return low_value + (high_value - low_value) * (position - low)

    def _histogram(self, members: dict[int, np.ndarray]) -> np.ndarray:
        """Bins: exactly 0, then (10^(d-1), 10^d] per decade, then above 10^5. Buckets that straddle
        a power of ten are split exactly using their members."""
        size = len(_DECADE_EDGES) + 2
        bucket_ids = np.arange(FINE_BUCKETS)
        bins = 1 + np.searchsorted(_EDGE_BUCKETS, bucket_ids, side="left")
        exact = np.zeros(FINE_BUCKETS, dtype=bool)
        exact[[b for b in members if b == 0 or b in set(_EDGE_BUCKETS.tolist())]] = True
        result = np.bincount(bins[~exact], weights=self._counts[~exact], minlength=size)
        for bucket in np.flatnonzero(exact):
            values = members[int(bucket)]
            zeros = int(np.count_nonzero(values == 0))
            result[0] += zeros
            nonzero = values[values != 0]
            result += np.bincount(1 + np.searchsorted(_DECADE_EDGES, nonzero, side="left"), minlength=size)
        return result.astype(np.int64)
