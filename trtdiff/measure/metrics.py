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
from dataclasses import dataclass, field

import numpy as np

from trtdiff.measure.accumulate import Accumulator, TotalsView
from trtdiff.measure.checks import STATISTICS
from trtdiff.measure.fine import FineCounts
from trtdiff.measure.quantiles import ErrorDistribution
from trtdiff.measure.scratch import Scratch
from trtdiff.result import ErrorMetrics

CHECKS = ("elementwise", *STATISTICS)
_REL_QUANTILES = {"median": 0.5, "p99": 0.99}


@dataclass(frozen=True)
class Measured:
    """One comparison of a tensor pair: its exact metrics, the kernel's sums and counts (to merge
    with other samples), the relative-error quantiles the checks asked for, and, when asked, the
    fine bucket counts that quantiles over several samples are read from."""

    metrics: ErrorMetrics
    sums: np.ndarray
    counts: np.ndarray
    rel_quantiles: dict[float, float] = field(default_factory=dict)
    fine: FineCounts | None = None
    exact_quantiles: bool = True  # False: metrics' median/p99 were not computed (NaN; over samples: from `fine`)


def measure(ref: np.ndarray, target: np.ndarray, atol: float, rtol: float, rel_floor: float = 1e-6,
            rel_quantiles: tuple[float, ...] = (), scratch: Scratch | None = None, fine: bool = False,
            exact_quantiles: bool = True) -> Measured:
    """Compare one same-shape tensor pair (`rel_quantiles`: quantiles of the relative error to keep,
    e.g. for a median or p99 check; `fine`: count the errors for quantiles over several samples;
    `exact_quantiles`: the median and p99 abs error, which a sample merged with others needs only
    for a median or p99 check, and some callers not at all; without them, they are NaN)."""
    if ref.shape != target.shape:
        raise ValueError(f"shape mismatch {ref.shape} vs {target.shape}")
    keep_rel = bool(rel_quantiles) and rtol > 0
    with (scratch or Scratch()).borrow(ref.size) as errors:
        acc = Accumulator.run(np.ravel(ref), np.ravel(target), atol, rtol, rel_floor, keep_rel, errors)
        metrics = _finish(acc, exact_quantiles)
        rel_errors = acc.finite_rel_errors()
        rel = dict(zip(rel_quantiles, ErrorDistribution(rel_errors).quantiles(rel_quantiles))) \
            if rel_errors is not None else {}
        counts = FineCounts.of(acc.finite_abs_errors(), acc.bucket_counts[0]) if fine else None
        return Measured(metrics, acc.sums, acc.counts, rel, counts, exact_quantiles)


def compute_metrics(
    ref: np.ndarray,
    target: np.ndarray,
    atol: float,
    rtol: float,
    check: str = "elementwise",
    rel_floor: float = 1e-6,
    scratch: Scratch | None = None,
) -> tuple[ErrorMetrics, bool]:
    """Compare one tensor; returns the metrics and whether it passes the check (elementwise or a
    statistic). `scratch` lends the array for the element errors (a run comparing many tensors
    reuses a few)."""
    if check not in CHECKS:
        raise ValueError(f"unknown check {check!r}; choose from {CHECKS}")
    wanted = (_REL_QUANTILES[check],) if check in _REL_QUANTILES else ()
    measured = measure(ref, target, atol, rtol, rel_floor, wanted, scratch)
    return measured.metrics, statistic_passes(measured, atol, rtol, check)


def _finish(acc: Accumulator, exact_quantiles: bool = True) -> ErrorMetrics:
    distribution = ErrorDistribution(acc.finite_abs_errors(), acc.bucket_counts, acc.zeros)
    median, p99 = distribution.quantiles((0.5, 0.99)) if exact_quantiles else (math.nan, math.nan)
    histogram = distribution.histogram()
    return metrics_from(acc, acc.size, median, p99, np.append(histogram, acc.nonfinite_disagreements))


def metrics_from(totals: TotalsView, size: int, median: float, p99: float, histogram: np.ndarray) -> ErrorMetrics:
    """ErrorMetrics from running totals (one comparison's, or several merged) and the quantiles."""
    n = totals.filled
    return ErrorMetrics(
        size=size,
        max_abs=totals.max_abs if n else math.nan,
        mean_abs=totals.sum_abs / n if n else math.nan,
        median_abs=median,
        p99_abs=p99,
        max_rel=totals.max_rel if n else math.nan,
        mean_rel=totals.sum_rel / n if n else math.nan,
        cosine=_cosine(totals),
        snr_db=_snr_db(totals),
        mismatches=totals.mismatches,
        nan_ref=totals.nan_ref,
        nan_target=totals.nan_target,
        inf_ref=totals.inf_ref,
        inf_target=totals.inf_target,
        ref_max_abs=totals.ref_max_abs,
        histogram=tuple(int(c) for c in histogram),
    )


def _cosine(acc: TotalsView) -> float:
    if acc.filled == 0:
        return math.nan
    norm = math.sqrt(acc.ref_sq * acc.tgt_sq)
    if norm > 0:
        return max(-1.0, min(1.0, acc.dot / norm))
    return 1.0 if acc.ref_sq == acc.tgt_sq else 0.0


def _snr_db(acc: TotalsView) -> float:
    if acc.filled == 0:
        return math.nan
    if acc.err_sq == 0:
        return math.inf
    if acc.ref_sq == 0:
        return -math.inf
    return 10.0 * math.log10(acc.ref_sq / acc.err_sq)


def statistic_passes(measured: Measured, atol: float, rtol: float, check: str) -> bool:
    """Whether one comparison passes `check` (elementwise or a statistic); a NaN/Inf disagreement
    never passes."""
    m = measured.metrics
    if m.histogram and m.histogram[-1]:  # the last bin counts non-finite disagreements
        return False
    if check == "elementwise":
        return m.mismatches == 0
    abs_stat, rel_stat = _statistic(measured, check)
    if math.isnan(abs_stat):
        return True  # nothing finite to compare and nothing disagreed
    return abs_stat <= atol or (rtol > 0 and rel_stat <= rtol)


def statistic_value(metrics: ErrorMetrics, check: str) -> float:
    """The absolute-error statistic a check reads (elementwise: the mismatch count)."""
    return {"elementwise": float(metrics.mismatches), "max": metrics.max_abs, "mean": metrics.mean_abs,
            "median": metrics.median_abs, "p99": metrics.p99_abs}[check]


def _statistic(measured: Measured, check: str) -> tuple[float, float]:
    m = measured.metrics
    if check == "max":
        return m.max_abs, m.max_rel
    if check == "mean":
        return m.mean_abs, m.mean_rel
    return statistic_value(m, check), measured.rel_quantiles.get(_REL_QUANTILES[check], math.inf)
