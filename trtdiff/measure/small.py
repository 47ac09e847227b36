"""The comparison kernel's work in numpy, for small tensors: no wait for numba.

Loading numba's compiled kernel takes a few tenths of a second, more than comparing a few thousand
elements costs in numpy; a run that compares only small tensors (graph outputs such as logits or
boxes) need not load it at all. `accumulate` fills the same `sums`, `counts` and error arrays as
`trtdiff.measure.kernel.accumulate`: every count, maximum and stored error is the same; the
float64 sums differ only in the order of their additions (numpy's pairwise summation; the
kernel's SIMD pass reassociates too), relative differences around 1e-15.
"""

from __future__ import annotations

import numpy as np

from trtdiff.measure.layout import (DISAGREE, ERR_SQ, FILLED, INF_REF, INF_TGT, MAX_ABS, MAX_REL,
                                    MISMATCHES, NAN_REF, NAN_TGT, REF_MAX, REF_SQ, SUM_ABS, SUM_REL,
                                    TGT_SQ, ZEROS)

SMALL = 1 << 12  # elements: up to this size numpy costs about what the kernel does (0.1 ms more at most)
FLOAT32_MAX = float(np.finfo(np.float32).max)


def accumulate(ref: np.ndarray, tgt: np.ndarray, atol: float, rtol: float, rel_floor: float, sums: np.ndarray,
               counts: np.ndarray, abs_errors: np.ndarray, rel_errors: np.ndarray, keep_rel: bool) -> None:
    """Add one chunk of `ref`/`tgt` (flat, same length) as `kernel.accumulate` does, but for the
    bucket counts of the stored errors (`trtdiff.measure.quantiles.bucket_counts` counts them)."""
    r, t = ref.astype(np.float64), tgt.astype(np.float64)
    finite = np.isfinite(r) & np.isfinite(t)
    if not finite.all():
        _nonfinite(r[~finite], t[~finite], counts)
        known = np.abs(r[np.isfinite(r)])
        sums[REF_MAX] = max(sums[REF_MAX], float(known.max())) if known.size else sums[REF_MAX]
        r, t = r[finite], t[finite]
    start = int(counts[FILLED])
    counts[FILLED] = start + r.size
    if r.size == 0:
        return
    errors, magnitudes = np.abs(t - r), np.abs(r)
    relative = errors / np.maximum(magnitudes, rel_floor)
    stored = abs_errors[start:start + r.size]
    stored[...] = np.minimum(errors, FLOAT32_MAX)  # kept as float32 for the quantiles, as the kernel keeps them
    if keep_rel:
        with np.errstate(over="ignore"):  # beyond float32's range: inf, as the kernel stores it
            rel_errors[start:start + r.size] = relative
    sums[SUM_ABS] += float(errors.sum())
    sums[SUM_REL] += float(relative.sum())
    sums[MAX_ABS] = max(sums[MAX_ABS], float(errors.max()))
    sums[MAX_REL] = max(sums[MAX_REL], float(relative.max()))
    sums[REF_MAX] = max(sums[REF_MAX], float(magnitudes.max()))
    sums[REF_SQ] += float(np.dot(r, r))
    sums[TGT_SQ] += float(np.dot(t, t))
    sums[ERR_SQ] += float(np.dot(errors, errors))
    counts[MISMATCHES] += int(np.count_nonzero(errors > atol + rtol * magnitudes))
    counts[ZEROS] += int(errors.size - np.count_nonzero(errors))


def _nonfinite(r: np.ndarray, t: np.ndarray, counts: np.ndarray) -> None:
    """NaN/Inf per side, and the disagreements (one side non-finite, or both but different),
    which count as mismatches too."""
    nan_r, nan_t, inf_r, inf_t = np.isnan(r), np.isnan(t), np.isinf(r), np.isinf(t)
    counts[NAN_REF] += int(nan_r.sum())
    counts[NAN_TGT] += int(nan_t.sum())
    counts[INF_REF] += int(inf_r.sum())
    counts[INF_TGT] += int(inf_t.sum())
    same = (nan_r & nan_t) | (inf_r & inf_t & (r == t))
    disagreements = int(r.size - np.count_nonzero(same))
    counts[DISAGREE] += disagreements
    counts[MISMATCHES] += disagreements
