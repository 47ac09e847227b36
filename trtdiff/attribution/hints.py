"""Cause hints: why a node introduces error, each naming the node and the numbers behind it.

    overflow      reference values beyond the target type's largest value (65504 for FP16),
                  or infs the node's local output has where the reference is finite
    underflow     share of the reference's nonzero values below the smallest normal number
                  (subnormal: fewer bits) and share of those the local output flushes to zero
    nan_origin    the node whose output first holds NaN the reference lacks: locally (fed the
                  reference's inputs) or in the target run while its inputs held none
    cancellation  large inputs, small output (x - mean of values with a large offset): ratio of
                  the inputs' RMS to the output's, with the local relative error it causes; only
                  for ops that add or subtract (a Mul by 1e-6 is a scale, not a cancellation)
    quantization  INT8/FP8 step too coarse for the quantized tensor: its max / p99.9 (outliers
                  stretch the scale), step / median |x|, and share of nonzero values that
                  quantize to zero

Array statistics are computed only for nodes whose local error is notable (see `local_hints`),
so attribution of a healthy model costs little beyond the metrics.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from trtdiff.attribution.facts import Quantizer
from trtdiff.measure.quantiles import ErrorDistribution
from trtdiff.result import CauseHint, ErrorMetrics


@dataclass(frozen=True)
class Limits:
    largest: float
    smallest_normal: float
    smallest_subnormal: float
    unit_roundoff: float


LIMITS = {
    "fp16": Limits(65504.0, 2.0**-14, 2.0**-24, 2.0**-11),
    "bf16": Limits(3.3895313892515355e38, 2.0**-126, 2.0**-133, 2.0**-8),
    "fp8": Limits(448.0, 2.0**-6, 2.0**-9, 2.0**-4),
}
UNDERFLOW_FLUSHED_SHARE = 0.01  # fire when >= 1% of nonzero values flush to zero ...
UNDERFLOW_SUBNORMAL_SHARE = 0.10  # ... or >= 10% are subnormal
CANCELLING_OPS = frozenset({"Add", "Sub", "Sum", "Mean", "ReduceSum", "ReduceMean", "MatMul", "Gemm", "Conv",
                            "Einsum", "LayerNormalization", "GroupNormalization", "InstanceNormalization",
                            "BatchNormalization"})
CANCELLATION_RATIO = 10.0  # input RMS / output RMS ...
CANCELLATION_ERROR = 1e-2  # ... and a local relative RMS error at least this (a pure scale has none)
OUTLIER_RATIO = 8.0  # max / p99.9 of the quantized tensor
ZERO_SHARE = 0.25  # share of nonzero values that quantize to zero


def local_hints(node: str, op_type: str, precision: str, ref: np.ndarray, local: np.ndarray, metrics: ErrorMetrics,
                notable: bool, inherited: bool, inputs: Mapping[str, np.ndarray],
                quantized: Sequence[tuple[Quantizer, np.ndarray]], fits: ScaleFits | None = None) -> list[CauseHint]:
    """Hints for one local output of `node`. `inherited`: an input, as its producer stores it in the
    target, is already NaN/Inf (that producer overflowed), so NaN/Inf here are not this node's doing.
    `inputs` are the node's float reference inputs (for cancellation); `quantized` pairs each
    activation quantizer in its cone with the reference tensor it quantizes; `fits` keeps their
    statistics for the other nodes of the run."""
    hints = [h for h in (None if inherited else _nan_local(node, metrics),
                         _overflow(node, precision, ref, metrics)) if h]
    if notable and precision in LIMITS:
        hints += [h for h in (_underflow(node, precision, ref, local),) if h]
    if notable and inputs and op_type in CANCELLING_OPS:
        hints += [h for h in (_cancellation(node, ref, inputs, metrics),) if h]
    if precision in ("int8", "fp8"):
        fits = fits if fits is not None else ScaleFits()
        hints += [h for q, values in quantized if (h := _quantization(node, precision, q, fits.of(q, values)))]
    return hints


def _nan_local(node: str, m: ErrorMetrics) -> CauseHint | None:
    new = m.nan_target - m.nan_ref
    if new <= 0:
        return None
    return CauseHint("nan_origin", node,
                     f"NaN first appears at '{node}': fed the reference's inputs it outputs {new} NaN "
                     f"of {m.size} values ({new / m.size:.1%}) where the reference has none",
                     {"nan_count": float(new), "nan_share": new / m.size}, f"makes {new} NaN")


def _overflow(node: str, precision: str, ref: np.ndarray, m: ErrorMetrics) -> CauseHint | None:
    """Reference values beyond the type's largest: true only when some exceed it (infs that appear
    with every value in range are a domain effect or an overflow inside the computation, which
    representation.py tells apart)."""
    limits = LIMITS.get(precision)
    if limits is None or m.ref_max_abs <= limits.largest:
        return None
    new_inf = max(0, m.inf_target - m.inf_ref)
    beyond = int(np.count_nonzero(np.abs(ref) > limits.largest))
    return CauseHint("overflow", node,
                     f"'{node}' overflows {precision}: {beyond} of {m.size} reference values exceed "
                     f"±{limits.largest:g} (largest {m.ref_max_abs:.6g}); its {precision} output holds "
                     f"{new_inf} inf", {"ref_max_abs": m.ref_max_abs, "type_max": limits.largest,
                                        "beyond_count": float(beyond), "inf_count": float(new_inf)},
                     f"overflows {precision}: {beyond} values beyond ±{limits.largest:g}")


def _underflow(node: str, precision: str, ref: np.ndarray, local: np.ndarray) -> CauseHint | None:
    limits = LIMITS[precision]
    magnitude = np.abs(ref.astype(np.float64, copy=False)).ravel()
    nonzero = magnitude != 0
    count = int(np.count_nonzero(nonzero))
    if not count:
        return None
    tiny = nonzero & (magnitude < limits.smallest_normal)
    subnormal = int(np.count_nonzero(tiny))
    flushed = int(np.count_nonzero(tiny & (np.ravel(local) == 0)))
    if flushed / count < UNDERFLOW_FLUSHED_SHARE and subnormal / count < UNDERFLOW_SUBNORMAL_SHARE:
        return None
    return CauseHint("underflow", node,
                     f"'{node}' underflows {precision}: {subnormal / count:.1%} of its nonzero reference "
                     f"values are below the smallest normal {limits.smallest_normal:.3g} and "
                     f"{flushed / count:.1%} flush to zero", {
                         "subnormal_share": subnormal / count, "flushed_share": flushed / count,
                         "smallest_normal": limits.smallest_normal,
                         "ref_median_abs": float(np.median(magnitude[nonzero]))},
                     f"underflows {precision}: {flushed / count:.0%} flush to zero")


def _cancellation(node: str, ref: np.ndarray, inputs: Mapping[str, np.ndarray],
                  m: ErrorMetrics) -> CauseHint | None:
    error = relative_rms(m)
    if error < CANCELLATION_ERROR:
        return None
    out_rms = rms(ref)
    name, in_rms = max(((n, rms(a)) for n, a in inputs.items()), key=lambda item: item[1])
    ratio = in_rms / out_rms if out_rms > 0 else math.inf
    if ratio < CANCELLATION_RATIO:
        return None
    return CauseHint("cancellation", node,
                     f"'{node}' cancels: its input '{name}' has RMS {in_rms:.4g}, {ratio:.3g}x its "
                     f"output's {out_rms:.4g}, so the input's rounding becomes a relative error of "
                     f"{error:.3g} in the output", {
                         "input_rms": in_rms, "output_rms": out_rms, "ratio": ratio,
                         "local_relative_rms": error}, f"cancels: inputs {ratio:.3g}x its output")


@dataclass(frozen=True)
class ScaleFit:
    """How a quantizer's step fits the reference tensor it quantizes (nonzero finite |x|)."""

    p999: float
    amax: float
    median: float
    zero: float  # share of those values that quantize to zero

    @classmethod
    def of(cls, q: Quantizer, values: np.ndarray) -> ScaleFit | None:
        magnitude = np.abs(np.ravel(values))
        magnitude = magnitude[np.isfinite(magnitude) & (magnitude != 0)]
        if magnitude.size == 0 or q.step <= 0:
            return None
        if magnitude.dtype in (np.float32, np.float16):  # |x| exact in float32: the bucket search
            magnitude = magnitude.astype(np.float32, copy=False)  # finds the same order statistics
            median, p999 = ErrorDistribution(magnitude).quantiles((0.5, 0.999))
            half_step = _float32_bound(q.step / 2)
        else:  # float64 (or wider) values: numpy, one partition for both
            magnitude = magnitude.astype(np.float64, copy=False)
            median, p999 = np.quantile(magnitude, (0.5, 0.999))
            half_step = q.step / 2
        return cls(float(p999), float(magnitude.max()), float(median),
                   float(np.count_nonzero(magnitude < half_step)) / magnitude.size)


def _float32_bound(bound: float) -> np.float32:
    """The float32 b with x < b exactly when x < `bound`, for every float32 x (the least float32
    not below `bound`): float32 values compare against it without a float64 copy of the tensor."""
    rounded = np.float32(bound)
    return rounded if float(rounded) >= bound else np.nextafter(rounded, np.float32(np.inf))


class ScaleFits:
    """`ScaleFit`s of one attribution run, each worked out once: a quantizer lies in the cone of
    every node downstream of it up to the next one, so the same statistics are asked for again and
    again (each a partition of the whole tensor)."""

    def __init__(self) -> None:
        self._known: dict[Quantizer, ScaleFit | None] = {}

    def of(self, q: Quantizer, values: np.ndarray) -> ScaleFit | None:
        if q not in self._known:
            self._known[q] = ScaleFit.of(q, values)
        return self._known[q]


def _quantization(node: str, precision: str, q: Quantizer, fit: ScaleFit | None) -> CauseHint | None:
    if fit is None:
        return None
    p999, amax, median, zero = fit.p999, fit.amax, fit.median, fit.zero
    outliers = amax / p999 if p999 > 0 else math.inf
    if outliers < OUTLIER_RATIO and zero < ZERO_SHARE:
        return None
    return CauseHint("quantization", node,
                     f"'{node}': the {precision} scale of '{q.tensor}' is too coarse: max |x| {amax:.4g} is "
                     f"{outliers:.3g}x its p99.9 ({p999:.4g}); step {q.step:.4g} is {q.step / median:.3g}x "
                     f"the median |x| {median:.4g}, and {zero:.1%} of nonzero values quantize to zero", {
                         "max_abs": amax, "p99_9": p999, "outlier_ratio": outliers, "step": q.step,
                         "median_abs": median, "step_to_median": q.step / median, "zero_share": zero},
                     f"{precision} scale of '{q.tensor}' too coarse ({outliers:.3g}x outliers, {zero:.0%} to zero)")


def nan_origin_cumulative(node: str, tensor: str, m: ErrorMetrics) -> CauseHint:
    """The node where NaN first shows in the target run (its inputs held none there)."""
    new = m.nan_target - m.nan_ref
    return CauseHint("nan_origin", node,
                     f"NaN first appears in the target run at '{node}' (tensor '{tensor}'): {new} of {m.size} "
                     "values, while its inputs held none", {"nan_count": float(new), "nan_share": new / m.size},
                     f"NaN first appears ({new} of {m.size})")


def rms(values: np.ndarray) -> float:
    data = values.astype(np.float64, copy=False).ravel()
    data = data[np.isfinite(data)]
    return float(np.sqrt(np.mean(np.square(data)))) if data.size else 0.0


def nonfinite_disagreement(m: ErrorMetrics) -> bool:
    """NaN/Inf on one side only (the last histogram bin)."""
    return bool(m.histogram) and m.histogram[-1] > 0


def relative_rms(m: ErrorMetrics) -> float:
    """RMS error / RMS of the reference (10^(-SNR/20)): 0 when exact, inf when the reference is 0
    and the output is not."""
    if math.isnan(m.snr_db) or m.snr_db == math.inf:
        return 0.0
    if m.snr_db == -math.inf:
        return math.inf
    return 10.0 ** (-m.snr_db / 20.0)
