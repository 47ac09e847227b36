"""Gate metrics: the one number per tensor that the regression gate compares between a baseline and
a candidate, and how "worse" is measured for it.

Two kinds: an aggregated error metric of the tensor (an ErrorMetrics field over every sample:
max_abs, p99_abs, cosine, ...), and a check's own statistic for a graph output (the value its
`--check` summary reports over the samples: top-K agreement, the worst sample's cosine, SNR or p99).
An output is gated by its check's statistic by default; other tensors by the metric of the check.

Every metric is turned into a *badness*, 0 for a perfect match and growing with the error (an
absolute error as is, 1 - cosine, the noise-to-signal power 10^(-SNR/10), the share of top-K
positions that flip), so one rule serves them all: the candidate regressed when

    badness(new) > badness(old) * (1 + max_regression) + floor

The floor keeps noise around zero from failing a gate: by default 1% of the tolerance the tensor is
checked against, in badness units (of atol for absolute errors, rtol for relative ones, 1 - T for
cosine:T, 10^(-DB/10) for snr:DB), 1e-6 for cosine and SNR without a threshold, and 0.001 (one flip
in a thousand positions) for top-K agreement.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from trtdiff.errors import UsageError
from trtdiff.result import TensorResult, Tolerances

FLOOR_SHARE_OF_TOLERANCE = 0.01
SCALE_FREE_FLOOR = 1e-6
TOPK_FLOOR = 1e-3
STATISTICS = ("max", "mean", "median", "p99")


def _as_is(value: float) -> float:
    return value


def _one_minus(value: float) -> float:
    return 1.0 - value


def _noise_power(snr_db: float) -> float:
    if math.isnan(snr_db):
        return math.nan
    if snr_db == math.inf:
        return 0.0
    if snr_db == -math.inf:
        return math.inf
    return 10.0 ** (-snr_db / 10.0)


@dataclass(frozen=True)
class GateMetric:
    """How one metric is read from a tensor and measured for the gate."""

    name: str  # an ErrorMetrics field, or a check label ("topk:1", "cosine:0.999", "p99")
    label: str  # for people: "p99 abs error", "top-1 agreement"
    badness: Callable[[float], float]
    floor: Callable[[float, float], float]  # (atol, rtol) -> default absolute floor, in badness units
    from_check: bool = False  # read from the output's check summary, not from its ErrorMetrics

    def value(self, tensor: TensorResult | None) -> float:
        """The raw value; NaN when the tensor was not compared (or this check did not judge it)."""
        if tensor is None or tensor.metrics is None:
            return math.nan
        if not self.from_check:
            return float(getattr(tensor.metrics, self.name))
        summaries = tensor.sample_verdicts.checks if tensor.sample_verdicts is not None else ()
        return next((float(s.value) for s in summaries if s.check == self.name), math.nan)

    def regressed(self, old: float, new: float, max_regression: float, floor: float) -> bool:
        """True when `new` is worse than `old` by more than the margin; NaN on either side (nothing
        measured) is not a regression: NaN and Inf disagreements are judged apart."""
        old_bad, new_bad = self.badness(old), self.badness(new)
        if math.isnan(old_bad) or math.isnan(new_bad) or math.isinf(old_bad):
            return False
        return new_bad > old_bad * (1.0 + max_regression) + floor

    def ratio(self, old: float, new: float) -> float:
        """How many times worse (badness new / old): 1 unchanged, inf when it grew from exactly 0."""
        old_bad, new_bad = self.badness(old), self.badness(new)
        if math.isnan(old_bad) or math.isnan(new_bad):
            return math.nan
        if old_bad == 0.0:
            return 1.0 if new_bad == 0.0 else math.inf
        return new_bad / old_bad

    def limit(self, old: float, floor: float, max_regression: float) -> float:
        """The worst value the margin allows, in the metric's own units."""
        allowed = self.badness(old) * (1.0 + max_regression) + floor
        if self.badness is _one_minus:
            return 1.0 - allowed
        if self.badness is _noise_power:
            return -10.0 * math.log10(allowed) if allowed > 0 else math.inf
        return allowed


def _share_of_atol(atol: float, rtol: float) -> float:
    return FLOOR_SHARE_OF_TOLERANCE * atol


def _share_of_rtol(atol: float, rtol: float) -> float:
    return FLOOR_SHARE_OF_TOLERANCE * rtol


def _constant(value: float) -> Callable[[float, float], float]:
    return lambda atol, rtol: value


GATE_METRICS: dict[str, GateMetric] = {m.name: m for m in (
    GateMetric("max_abs", "max abs error", _as_is, _share_of_atol),
    GateMetric("p99_abs", "p99 abs error", _as_is, _share_of_atol),
    GateMetric("median_abs", "median abs error", _as_is, _share_of_atol),
    GateMetric("mean_abs", "mean abs error", _as_is, _share_of_atol),
    GateMetric("max_rel", "max rel error", _as_is, _share_of_rtol),
    GateMetric("mean_rel", "mean rel error", _as_is, _share_of_rtol),
    GateMetric("cosine", "cosine", _one_minus, _constant(SCALE_FREE_FLOOR)),
    GateMetric("snr_db", "SNR dB", _noise_power, _constant(SCALE_FREE_FLOOR)),
)}
CHOICES = (*GATE_METRICS, "check")  # "check": an output's check statistic (the default)

# The aggregated metric for a check's kind (the elementwise rule bounds every element's error, so
# its gate follows the largest one).
METRIC_OF_CHECK = {"elementwise": "max_abs", "max": "max_abs", "mean": "mean_abs", "median": "median_abs",
                   "p99": "p99_abs", "cosine": "cosine", "snr": "snr_db", "topk": "max_abs"}


def gate_metric(name: str) -> GateMetric:
    """The aggregated gate metric called `name`; UsageError listing the valid ones otherwise."""
    if name not in GATE_METRICS:
        choices = ", ".join(CHOICES)
        raise UsageError(f"unknown gate metric '{name}'", f"valid: {choices}", f"choose one of {choices}")
    return GATE_METRICS[name]


def check_statistic(label: str) -> GateMetric | None:
    """The gate metric of a check's own statistic ("topk:1", "cosine:0.999", "snr:30", "p99", ...);
    None for elementwise (its statistic is a count of mismatches, not an error size)."""
    kind, _, value = label.partition(":")
    threshold = float(value) if value else math.nan
    if kind == "topk":
        return GateMetric(label, f"top-{value} agreement", _one_minus, _constant(TOPK_FLOOR), from_check=True)
    if kind == "cosine":
        floor = FLOOR_SHARE_OF_TOLERANCE * (1.0 - threshold) if math.isfinite(threshold) else SCALE_FREE_FLOOR
        return GateMetric(label, "worst sample's cosine", _one_minus, _constant(floor), from_check=True)
    if kind == "snr":
        floor = FLOOR_SHARE_OF_TOLERANCE * _noise_power(threshold) if math.isfinite(threshold) else SCALE_FREE_FLOOR
        return GateMetric(label, "worst sample's SNR dB", _noise_power, _constant(floor), from_check=True)
    if kind in STATISTICS:
        return GateMetric(label, f"worst sample's {kind} abs error", _as_is, _share_of_atol, from_check=True)
    return None


def metric_for_check(check: str) -> GateMetric:
    """The aggregated metric of a check's kind; max abs error for a check this table does not know."""
    return GATE_METRICS[METRIC_OF_CHECK.get(check.partition(":")[0], "max_abs")]


def default_metric(tolerances: Tolerances) -> GateMetric:
    """The gate metric of tensors without a check statistic: that of the first check that applies
    to every tensor (unprefixed, and not top-K, which judges outputs only), else of `check`."""
    for label in tolerances.checks:
        kind = _unprefixed_kind(label)
        if kind is not None and kind != "topk":
            return metric_for_check(kind)
    return metric_for_check(tolerances.check)


def _unprefixed_kind(label: str) -> str | None:
    """The kind of a check written without a tensor name ("p99", "cosine:0.999"), else None.
    (`trtdiff.measure.checks.parse_check` reads the same syntax, but importing it costs `trtdiff
    diff` numpy's start-up.)"""
    parts = label.split(":")
    if len(parts) == 1:
        return parts[0] if parts[0] in METRIC_OF_CHECK else None
    if len(parts) == 2 and parts[0] in ("cosine", "snr", "topk"):
        try:
            float(parts[1])
        except ValueError:
            return None  # "cosine:p99": check p99 of a tensor named cosine
        return parts[0]
    return None


def metric_of_output(tensor: TensorResult | None) -> GateMetric | None:
    """An output's own check statistic: the first of its checks that has one (None: no summary)."""
    if tensor is None or tensor.sample_verdicts is None:
        return None
    for summary in tensor.sample_verdicts.checks:
        metric = check_statistic(summary.check)
        if metric is not None:
            return metric
    return None
