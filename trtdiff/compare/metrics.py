"""Per-tensor error metrics, computed in float64 over cache-sized chunks with reused buffers, so
that a large tensor never needs a float64 copy of itself.

Definitions (also in the README):
- abs error e_i = |t_i - r_i|, over elements finite on both sides;
- relative error q_i = e_i / max(|r_i|, rel_floor);
- an element mismatches (elementwise check) when e_i > atol + rtol * |r_i| (numpy.allclose's rule),
  or when exactly one side is non-finite, or both are but differ (NaN vs Inf, +Inf vs -Inf);
- cosine similarity and SNR (10 log10 sum r^2 / sum e^2) over elements finite on both sides.
"""

from __future__ import annotations

import math

import numpy as np

from trtdiff.compare.accumulate import Accumulator
from trtdiff.compare.quantiles import ErrorDistribution
from trtdiff.compare.scratch import Scratch
from trtdiff.result import ErrorMetrics

CHECKS = ("elementwise", "max", "mean", "median", "p99")


def compute_metrics(
    ref: np.ndarray,
    target: np.ndarray,
    atol: float,
    rtol: float,
    check: str = "elementwise",
    rel_floor: float = 1e-6,
    scratch: Scratch | None = None,
) -> tuple[ErrorMetrics, bool]:
    """Compare one tensor; returns the metrics and whether it passes the check. `scratch` lends
    the array for the element errors (a run comparing many tensors reuses a few)."""
    if ref.shape != target.shape:
        raise ValueError(f"shape mismatch {ref.shape} vs {target.shape}")
    if check not in CHECKS:
        raise ValueError(f"unknown check {check!r}; choose from {CHECKS}")
    keep_rel = check in ("median", "p99") and rtol > 0
    with (scratch or Scratch()).borrow(ref.size) as errors:
        acc = Accumulator.run(np.ravel(ref), np.ravel(target), atol, rtol, rel_floor, keep_rel, errors)
        metrics = _finish(acc)
        return metrics, _passes(metrics, acc, atol, rtol, check)


def _finish(acc: Accumulator) -> ErrorMetrics:
    errors = acc.finite_abs_errors()
    n = errors.size
    (median, p99), histogram = ErrorDistribution(errors, acc.bucket_counts, acc.zeros).summary((0.5, 0.99))
    histogram = np.append(histogram, acc.nonfinite_disagreements)
    return ErrorMetrics(
        size=acc.size,
        max_abs=acc.max_abs if n else math.nan,
        mean_abs=acc.sum_abs / n if n else math.nan,
        median_abs=median,
        p99_abs=p99,
        max_rel=acc.max_rel if n else math.nan,
        mean_rel=acc.sum_rel / n if n else math.nan,
        cosine=_cosine(acc),
        snr_db=_snr_db(acc),
        mismatches=acc.mismatches,
        nan_ref=acc.nan_ref,
        nan_target=acc.nan_target,
        inf_ref=acc.inf_ref,
        inf_target=acc.inf_target,
        ref_max_abs=acc.ref_max_abs,
        histogram=tuple(int(c) for c in histogram),
    )


def _cosine(acc: Accumulator) -> float:
    if acc.filled == 0:
        return math.nan
    norm = math.sqrt(acc.ref_sq * acc.tgt_sq)
    if norm > 0:
        return max(-1.0, min(1.0, acc.dot / norm))
    return 1.0 if acc.ref_sq == acc.tgt_sq else 0.0


def _snr_db(acc: Accumulator) -> float:
    if acc.filled == 0:
        return math.nan
    if acc.err_sq == 0:
        return math.inf
    if acc.ref_sq == 0:
        return -math.inf
    return 10.0 * math.log10(acc.ref_sq / acc.err_sq)


def _passes(m: ErrorMetrics, acc: Accumulator, atol: float, rtol: float, check: str) -> bool:
    if acc.nonfinite_disagreements:
        return False
    if check == "elementwise":
        return m.mismatches == 0
    abs_stat, rel_stat = _statistic(m, acc, check)
    if math.isnan(abs_stat):
        return True  # nothing finite to compare and nothing disagreed
    return abs_stat <= atol or (rtol > 0 and rel_stat <= rtol)


def _statistic(m: ErrorMetrics, acc: Accumulator, check: str) -> tuple[float, float]:
    if check == "max":
        return m.max_abs, m.max_rel
    if check == "mean":
        return m.mean_abs, m.mean_rel
    abs_stat = m.median_abs if check == "median" else m.p99_abs
    rel_errors = acc.finite_rel_errors()
    if rel_errors is None:
        return abs_stat, math.inf
    q = 0.5 if check == "median" else 0.99
    return abs_stat, ErrorDistribution(rel_errors).quantiles((q,))[0]
