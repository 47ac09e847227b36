"""Running float64 sums over a tensor pair, chunk by chunk, through the fused kernel
(`trtdiff.measure.kernel`, imported on first use: loading numba takes a noticeable fraction of a
second, which `warm_up` lets a caller spend in the background). Small tensors take the kernel's
numpy twin (`trtdiff.measure.small`) instead, so a run comparing only those never loads numba."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from trtdiff.measure import layout, small
from trtdiff.measure.quantiles import BUCKET_SHIFT, EDGE_BITS, FINE_BUCKETS, bucket_counts

CHUNK = 1 << 20  # elements per kernel call; also the size of a float16 chunk converted to float32
_KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


class TotalsView:
    """Named access to the kernel's running `sums` (float64) and `counts` (int64)."""

    sums: np.ndarray
    counts: np.ndarray

    @property
    def dot(self) -> float:
        """sum(r * t), from |t - r|^2 = |t|^2 + |r|^2 - 2 r.t."""
        return 0.5 * (self.ref_sq + self.tgt_sq - self.err_sq)

    filled = property(lambda self: int(self.counts[layout.FILLED]))
    mismatches = property(lambda self: int(self.counts[layout.MISMATCHES]))
    zeros = property(lambda self: int(self.counts[layout.ZEROS]))
    nonfinite_disagreements = property(lambda self: int(self.counts[layout.DISAGREE]))
    nan_ref = property(lambda self: int(self.counts[layout.NAN_REF]))
    nan_target = property(lambda self: int(self.counts[layout.NAN_TGT]))
    inf_ref = property(lambda self: int(self.counts[layout.INF_REF]))
    inf_target = property(lambda self: int(self.counts[layout.INF_TGT]))
    sum_abs = property(lambda self: float(self.sums[layout.SUM_ABS]))
    sum_rel = property(lambda self: float(self.sums[layout.SUM_REL]))
    max_abs = property(lambda self: float(self.sums[layout.MAX_ABS]))
    max_rel = property(lambda self: float(self.sums[layout.MAX_REL]))
    ref_sq = property(lambda self: float(self.sums[layout.REF_SQ]))
    tgt_sq = property(lambda self: float(self.sums[layout.TGT_SQ]))
    err_sq = property(lambda self: float(self.sums[layout.ERR_SQ]))
    ref_max_abs = property(lambda self: float(self.sums[layout.REF_MAX]))


@dataclass
class Totals(TotalsView):
    """Sums and counts of several comparisons merged: sums added, maxima kept, counts added."""

    sums: np.ndarray = field(default_factory=lambda: np.zeros(layout.N_SUMS))
    counts: np.ndarray = field(default_factory=lambda: np.zeros(layout.N_COUNTS, dtype=np.int64))

    def merge(self, sums: np.ndarray, counts: np.ndarray) -> None:
        maxima = list(layout.MAXIMA)
        added = [i for i in range(layout.N_SUMS) if i not in maxima]
        self.sums[added] += sums[added]
        self.sums[maxima] = np.maximum(self.sums[maxima], sums[maxima])
        self.counts += counts


@dataclass
class Accumulator(TotalsView):
    size: int
    keep_rel: bool
    sums: np.ndarray = field(default_factory=lambda: np.zeros(layout.N_SUMS))
    counts: np.ndarray = field(default_factory=lambda: np.zeros(layout.N_COUNTS, dtype=np.int64))
    bucket_counts: np.ndarray = field(default_factory=lambda: np.zeros((2, FINE_BUCKETS), dtype=np.int64))
    abs_errors: np.ndarray = field(init=False, repr=False)
    rel_errors: np.ndarray = field(init=False, repr=False)

    errors_buffer: np.ndarray | None = field(default=None, repr=False)  # float32, at least `size` long

    def __post_init__(self) -> None:
        if self.errors_buffer is not None and self.errors_buffer.size >= self.size:
            self.abs_errors = self.errors_buffer[: self.size]
        else:
            self.abs_errors = np.empty(self.size, dtype=np.float32)
        self.rel_errors = np.empty(self.size if self.keep_rel else 0, dtype=np.float32)

    @classmethod
    def run(cls, ref: np.ndarray, target: np.ndarray, atol: float, rtol: float,
            rel_floor: float, keep_rel: bool, errors_buffer: np.ndarray | None = None) -> Accumulator:
        """Compare `ref` with `target` (flat, same size); `errors_buffer` (optional, float32, at
        least ref.size long) holds the element errors instead of a new array."""
        acc = cls(ref.size, keep_rel, errors_buffer=errors_buffer)
        if ref.size <= small.SMALL:
            small.accumulate(ref, target, float(atol), float(rtol), float(rel_floor), acc.sums, acc.counts,
                             acc.abs_errors, acc.rel_errors, keep_rel)
            acc.bucket_counts += bucket_counts(acc.finite_abs_errors())
            return acc
        from trtdiff.measure import kernel

        for start in range(0, ref.size, CHUNK):
            stop = min(start + CHUNK, ref.size)
            ref_chunk, target_chunk = _kernel_input(ref[start:stop]), _kernel_input(target[start:stop])
            args = (ref_chunk, target_chunk, float(atol), float(rtol), float(rel_floor), acc.sums, acc.counts,
                    acc.abs_errors, acc.rel_errors, keep_rel, acc.bucket_counts, EDGE_BITS, BUCKET_SHIFT)
            simd = ref_chunk.dtype == target_chunk.dtype == np.float32 and _simd_safe(atol, rtol, rel_floor)
            if not (simd and kernel.accumulate_finite(*args)):  # declined: a NaN or Inf in the chunk
                kernel.accumulate(*args)
        return acc

    def finite_abs_errors(self) -> np.ndarray:
        return self.abs_errors[: self.filled]

    def finite_rel_errors(self) -> np.ndarray | None:
        return self.rel_errors[: self.filled] if self.keep_rel else None


def _simd_safe(atol: float, rtol: float, rel_floor: float) -> bool:
    """Whether the SIMD pass's no-Inf promise holds: with float32 inputs (errors below 7e38) and
    these tolerances no relative error, threshold or sum can overflow float64."""
    return rel_floor >= 1e-250 and rtol <= 1e250 and atol <= 1e300


def _kernel_input(chunk: np.ndarray) -> np.ndarray:
    """float32/float64 pass through; float16 (exact in float32) and integers are converted."""
    if chunk.dtype in _KERNEL_DTYPES and chunk.flags.c_contiguous:
        return chunk
    wide = np.float32 if chunk.dtype == np.float16 else np.float64
    return np.ascontiguousarray(chunk, dtype=wide)


def warm_up() -> None:
    """Import and load the compiled kernels now (e.g. on a background thread while a model runs),
    with the argument types the comparisons pass. They are called directly: a tensor this small
    would take the numpy twin."""
    from trtdiff.measure import kernel

    for value in (0.0, np.nan):  # the SIMD pass, and the general one it hands a NaN to
        acc = Accumulator(1, False)
        args = (np.full(1, value, np.float32), np.zeros(1, np.float32), 0.0, 0.0, 1e-6, acc.sums, acc.counts,
                acc.abs_errors, acc.rel_errors, False, acc.bucket_counts, EDGE_BITS, BUCKET_SHIFT)
        if not kernel.accumulate_finite(*args):
            kernel.accumulate(*args)
    values, sizes = np.zeros(1, np.float32), np.ones(1, np.int64)
    kernel.count_window(values, 16, 0, np.zeros(1, np.int64))  # the counts merged over samples
    # exact quantiles: count the values per bucket, then gather the members of the buckets needed
    kernel.count_buckets(values, np.zeros((2, FINE_BUCKETS), np.int64), EDGE_BITS, BUCKET_SHIFT)
    kernel.select(values, np.zeros(FINE_BUCKETS, np.int64), BUCKET_SHIFT, sizes)
