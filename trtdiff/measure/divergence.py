"""The first divergence that means something: the first tensor, in topological order, whose error
is large *relative to its values*.

The tolerance-based first failure (`Comparison.first_divergence`) is the first tensor outside
`atol + rtol * |ref|`; with an absolute atol, a tensor of large values fails on plain rounding
(a Mul by 1e4 scales FP16's 1e-3 relative rounding to errors of 10). Signal-to-noise ratio does
not depend on scale, so this module names the first tensor whose SNR falls below a threshold
(`--divergence-snr`, 40 dB by default: relative RMS error 1 %), or that holds NaN/Inf where the
reference is finite (no SNR can describe an overflow; the finite elements alone may look fine).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from trtdiff.result import DEFAULT_DIVERGENCE_SNR_DB, ErrorMetrics, TensorResult

__all__ = ["DEFAULT_DIVERGENCE_SNR_DB", "divergence_reason", "diverges", "first_significant_divergence",
           "nonfinite_disagreements"]


def nonfinite_disagreements(metrics: ErrorMetrics) -> int:
    """Elements NaN/Inf on one side only, or on both but different (the last histogram bin)."""
    return metrics.histogram[-1] if metrics.histogram else 0


def diverges(metrics: ErrorMetrics, snr_db: float) -> bool:
    """SNR below `snr_db` (over the elements finite on both sides), or any non-finite disagreement."""
    if nonfinite_disagreements(metrics):
        return True
    return not math.isnan(metrics.snr_db) and metrics.snr_db < snr_db


def first_significant_divergence(tensors: Iterable[TensorResult], snr_db: float) -> str | None:
    """The name of the first compared tensor, in topological order, that `diverges`; None if none."""
    candidates = [(t.index, position, t) for position, t in enumerate(tensors)
                  if t.status == "compared" and t.metrics is not None and t.index >= 0]
    for _, _, tensor in sorted(candidates, key=lambda c: c[:2]):
        assert tensor.metrics is not None
        if diverges(tensor.metrics, snr_db):
            return tensor.name
    return None


def divergence_reason(metrics: ErrorMetrics, snr_db: float) -> str:
    """Why a tensor diverges, or does not, in words (for the terminal and the report)."""
    bad = nonfinite_disagreements(metrics)
    if bad:
        return (f"{bad:,} of {metrics.size:,} values are NaN/Inf on one side only "
                "(the target's overflow or invalid result)")
    if math.isnan(metrics.snr_db):
        return "no elements finite on both sides"
    verb = "below" if metrics.snr_db < snr_db else "not below"
    return f"SNR {metrics.snr_db:.1f} dB, {verb} the {snr_db:g} dB divergence threshold"
