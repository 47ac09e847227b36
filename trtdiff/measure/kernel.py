"""The per-element work of a comparison, as one fused float64 pass compiled by numba.

Every metric of a tensor pair comes out of a single loop over its elements: each element is read
once, converted to float64, and its error added to every running sum; the error is also kept as
float32 (for exact quantiles) and counted in its bit-pattern bucket. The loops release the GIL, so
several tensors are compared at once on several cores. Compiled code is cached on disk (numba's
cache), so only the first run on a machine pays for compilation.

Two versions of the pass: `accumulate` handles any values (NaN and Inf counted per side), and
`accumulate_finite`, for float32 chunks free of NaN and Inf (it checks, and declines the others),
lets the compiler use SIMD (sums reassociated, maxima as `llvm.maxnum`), about 8x faster. Reassociation
changes only the order of float64 additions (relative differences around 1e-13).
"""

from __future__ import annotations

import math

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from trtdiff.measure.layout import (DISAGREE, ERR_SQ, FILLED, INF_REF, INF_TGT, MAX_ABS, MAX_REL,
                                    MISMATCHES, NAN_REF, NAN_TGT, REF_MAX, REF_SQ, SUM_ABS, SUM_REL,
                                    TGT_SQ, ZEROS)

FLOAT32_MAX = float(np.finfo(np.float32).max)
_SIMD = {"nnan", "ninf", "nsz", "reassoc"}  # safe only where every value is finite
_EXPONENT = np.int32(0x7F800000)  # float32 exponent bits: all set for Inf and NaN


@intrinsic
def _fmax(typingctx, a, b):  # pragma: no cover - compiled
    """max of two float64 as llvm.maxnum, which the vectorizer turns into a SIMD reduction."""

    def codegen(context, builder, signature, args):
        double = ir.DoubleType()
        maxnum = builder.module.declare_intrinsic("llvm.maxnum", [double], ir.FunctionType(double, [double, double]))
        return builder.call(maxnum, args)

    return types.float64(types.float64, types.float64), codegen


@numba.njit(cache=True, nogil=True, fastmath=_SIMD, error_model="numpy")
def accumulate_finite(ref, tgt, atol, rtol, rel_floor, sums, counts, abs_errors, rel_errors, keep_rel,
                      buckets, edge_bits, shift):  # pragma: no cover - compiled
    """`accumulate` for float32 chunks, if neither side holds a NaN or Inf: returns False, having
    recorded nothing, when one does (then call `accumulate`). The check looks at the bit patterns
    (an all-ones exponent), which the fast-math flags leave alone."""
    filled = counts[FILLED]
    errors = abs_errors[filled:filled + ref.size]
    ref_bits, tgt_bits = ref.view(np.int32), tgt.view(np.int32)
    sum_abs, sum_rel, max_abs, max_rel, ref_sq, tgt_sq, err_sq, ref_max = 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
    mismatches, zeros, nonfinite = 0, 0, 0
    for i in range(ref.size):
        nonfinite |= ((ref_bits[i] & _EXPONENT) == _EXPONENT) | ((tgt_bits[i] & _EXPONENT) == _EXPONENT)
        r = np.float64(ref[i])
        t = np.float64(tgt[i])
        e = abs(t - r)
        ar = abs(r)
        q = e / _fmax(ar, rel_floor)
        sum_abs += e
        sum_rel += q
        max_abs = _fmax(max_abs, e)
        max_rel = _fmax(max_rel, q)
        ref_max = _fmax(ref_max, ar)
        ref_sq += r * r
        tgt_sq += t * t
        err_sq += e * e
        mismatches += e > atol + rtol * ar
        zeros += e == 0.0
        errors[i] = np.float32(min(e, FLOAT32_MAX))  # two finite float32 can differ by more than its max
    if nonfinite:
        return False
    if keep_rel:
        rel = rel_errors[filled:filled + ref.size]
        for i in range(ref.size):
            rel[i] = abs(np.float64(tgt[i]) - np.float64(ref[i])) / _fmax(abs(np.float64(ref[i])), rel_floor)
    count_buckets(errors, buckets, edge_bits, shift)
    counts[FILLED] = filled + ref.size
    counts[MISMATCHES] += mismatches
    counts[ZEROS] += zeros
    sums[SUM_ABS] += sum_abs
    sums[SUM_REL] += sum_rel
    sums[MAX_ABS] = max(sums[MAX_ABS], max_abs)
    sums[MAX_REL] = max(sums[MAX_REL], max_rel)
    sums[REF_SQ] += ref_sq
    sums[TGT_SQ] += tgt_sq
    sums[ERR_SQ] += err_sq
    sums[REF_MAX] = max(sums[REF_MAX], ref_max)
    return True


@numba.njit(cache=True, nogil=True)
def count_buckets(values, buckets, edge_bits, shift):  # pragma: no cover - compiled
    """Add to `buckets[0, b]` how many of `values` (non-negative float32) fall in bucket b (bits >>
    shift) and to `buckets[1, b]` how many of those are at or below `edge_bits[b]` (the bit pattern
    of a histogram edge inside bucket b; -1 where there is none).

    Each value increments one counter, indexed by its bucket and by the comparison (an index, not
    a branch: an edge bucket's values fall either side at random). Four interleaved sets of
    counters keep runs of equal buckets from waiting on each other."""
    bits = values.view(np.int32)
    lanes = np.zeros((4, 2 * buckets.shape[1]), np.int64)
    whole = values.size // 4 * 4
    for i in range(0, whole, 4):
        for lane in range(4):
            bucket = bits[i + lane] >> shift
            lanes[lane, (bucket << 1) | (bits[i + lane] <= edge_bits[bucket])] += 1
    for i in range(whole, values.size):
        bucket = bits[i] >> shift
        lanes[0, (bucket << 1) | (bits[i] <= edge_bits[bucket])] += 1
    for lane in range(4):
        for j in range(buckets.shape[1]):
            buckets[0, j] += lanes[lane, 2 * j] + lanes[lane, 2 * j + 1]
            buckets[1, j] += lanes[lane, 2 * j + 1]


@numba.njit(cache=True, nogil=True)
def accumulate(ref, tgt, atol, rtol, rel_floor, sums, counts, abs_errors, rel_errors, keep_rel,
               buckets, edge_bits, shift):  # pragma: no cover - compiled; exercised through compute_metrics
    """Add one chunk of `ref`/`tgt` (same length, float32 or float64) to `sums` and `counts`;
    errors of elements finite on both sides are appended to `abs_errors` (and `rel_errors`) and
    counted in `buckets` (see `count_buckets`)."""
    start = filled = counts[FILLED]
    sum_abs, sum_rel, max_abs, max_rel = sums[SUM_ABS], sums[SUM_REL], sums[MAX_ABS], sums[MAX_REL]
    ref_sq, tgt_sq, err_sq, ref_max = sums[REF_SQ], sums[TGT_SQ], sums[ERR_SQ], sums[REF_MAX]
    mismatches, zeros, disagreements_before = counts[MISMATCHES], counts[ZEROS], counts[DISAGREE]
    for i in range(ref.size):
        r = np.float64(ref[i])
        t = np.float64(tgt[i])
        if math.isfinite(r) and math.isfinite(t):
            e = abs(t - r)
            ar = abs(r)
            q = e / max(ar, rel_floor)
            sum_abs += e
            sum_rel += q
            max_abs = max(max_abs, e)
            max_rel = max(max_rel, q)
            ref_max = max(ref_max, ar)
            ref_sq += r * r
            tgt_sq += t * t
            err_sq += e * e
            if e > atol + rtol * ar:
                mismatches += 1
            abs_errors[filled] = min(e, FLOAT32_MAX)  # kept as float32 for the quantiles
            if e == 0.0:
                zeros += 1
            if keep_rel:
                rel_errors[filled] = q
            filled += 1
        else:
            _nonfinite(r, t, counts)
            if math.isfinite(r):
                ref_max = max(ref_max, abs(r))
    count_buckets(abs_errors[start:filled], buckets, edge_bits, shift)
    # a non-finite disagreement (counted by _nonfinite) is a mismatch too
    counts[MISMATCHES] = mismatches + counts[DISAGREE] - disagreements_before
    counts[FILLED], counts[ZEROS] = filled, zeros
    sums[SUM_ABS], sums[SUM_REL], sums[MAX_ABS], sums[MAX_REL] = sum_abs, sum_rel, max_abs, max_rel
    sums[REF_SQ], sums[TGT_SQ], sums[ERR_SQ], sums[REF_MAX] = ref_sq, tgt_sq, err_sq, ref_max


@numba.njit(cache=True, nogil=True)
def _nonfinite(r, t, counts):  # pragma: no cover - compiled
    """Count NaN/Inf on each side; a disagreement is one side non-finite, or both but different."""
    if math.isnan(r):
        counts[NAN_REF] += 1
    elif math.isinf(r):
        counts[INF_REF] += 1
    if math.isnan(t):
        counts[NAN_TGT] += 1
    elif math.isinf(t):
        counts[INF_TGT] += 1
    same = (math.isnan(r) and math.isnan(t)) or (math.isinf(r) and math.isinf(t) and r == t)
    if not same:
        counts[DISAGREE] += 1


@numba.njit(cache=True, nogil=True)
def select(values, slots, shift, sizes):  # pragma: no cover - compiled
    """The values of the wanted buckets, grouped by bucket: `slots[b]` is bucket b's position among
    the wanted ones (-1: not wanted) and `sizes` how many values each holds (from the bucket
    counts). Returns one array, bucket after bucket, each in the values' order."""
    bits = values.view(np.int32)
    ends = np.cumsum(sizes)
    positions = ends - sizes
    out = np.empty(ends[-1], np.float32)
    for i in range(values.size):
        slot = slots[bits[i] >> shift]
        if slot >= 0 and positions[slot] < ends[slot]:  # the bound only guards against wrong sizes
            out[positions[slot]] = values[i]
            positions[slot] += 1
    return out


@numba.njit(cache=True, nogil=True)
def count_window(values, shift, start, counts):  # pragma: no cover - compiled; exercised through FineCounts
    """Add to `counts[b - start]` how many of `values` (non-negative float32) fall in bucket b
    (bits >> shift); the caller sizes the window to hold every value's bucket."""
    bits = values.view(np.int32)
    for i in range(values.size):
        counts[(bits[i] >> shift) - start] += 1
