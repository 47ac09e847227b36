"""The per-element work of a comparison, as one fused float64 pass compiled by numba.

Every metric of a tensor pair comes out of a single loop over its elements: each element is read
once, converted to float64, and its error added to every running sum; the error is also kept as
float32 (for exact quantiles) and counted in its bit-pattern bucket. The loop releases the GIL, so
several tensors are compared at once on several cores. Compiled code is cached on disk (numba's
cache), so only the first run on a machine pays for compilation.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from trtdiff.compare.layout import (DISAGREE, ERR_SQ, FILLED, INF_REF, INF_TGT, MAX_ABS, MAX_REL,
                                    MISMATCHES, NAN_REF, NAN_TGT, REF_MAX, REF_SQ, SUM_ABS, SUM_REL,
                                    TGT_SQ, ZEROS)

FLOAT32_MAX = float(np.finfo(np.float32).max)


@numba.njit(cache=True, nogil=True)
def accumulate(ref, tgt, atol, rtol, rel_floor, sums, counts, abs_errors, rel_errors, keep_rel,
               buckets, shift):  # pragma: no cover - compiled; exercised through compute_metrics
    """Add one chunk of `ref`/`tgt` (same length, float32 or float64) to `sums` and `counts`;
    errors of elements finite on both sides are appended to `abs_errors` (and `rel_errors`)."""
    bits = abs_errors.view(np.int32)
    filled = counts[FILLED]
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
            buckets[bits[filled] >> shift] += 1
            if e == 0.0:
                zeros += 1
            if keep_rel:
                rel_errors[filled] = q
            filled += 1
        else:
            _nonfinite(r, t, counts)
            if math.isfinite(r):
                ref_max = max(ref_max, abs(r))
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
def select(values, wanted, shift):  # pragma: no cover - compiled
    """The values whose bucket (float32 bits >> shift) is marked in `wanted`, in order."""
    bits = values.view(np.int32)
    count = 0
    for i in range(values.size):
        if wanted[bits[i] >> shift]:
            count += 1
    out = np.empty(count, np.float32)
    j = 0
    for i in range(values.size):
        if wanted[bits[i] >> shift]:
            out[j] = values[i]
            j += 1
    return out
