"""Gate metrics: the one number per tensor that the regression gate compares between a baseline and
a candidate, and how "worse" is measured for it.

Every metric is turned into a *badness*, 0 for a perfect match and growing with the error (an
absolute error as is, 1 - cosine for cosine, the noise-to-signal power ratio 10^(-SNR/10) for SNR),
so one rule serves them all: the candidate regressed when

    badness(new) > badness(old) * (1 + max_regression) + floor

The floor keeps noise around zero from failing a gate: by default 1% of the tolerance the tensor is
checked against, in the same units (atol for absolute errors, rtol for relative ones), and 1e-6 for
cosine and SNR (60 dB).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from trtdiff.errors import UsageError
from trtdiff.result import ErrorMetrics

FLOOR_SHARE_OF_TOLERANCE = 0.01
SCALE_FREE_FLOOR = 1e-6


@dataclass(frozen=True)
class GateMetric:
    """How one metric is read from a tensor's ErrorMetrics and measured for the gate."""

    name: str  # the ErrorMetrics field, as in --json
    label: str  # for people: "p99 abs error"
    badness: Callable[[float], float]
    floor: Callable[[float, float], float]  # (atol, rtol) -> default absolute floor, in badness units
    higher_is_better: bool = False

    def value(self, metrics: ErrorMetrics | None) -> float:
        """The raw value (NaN when the tensor was not compared or had nothing finite to compare)."""
        return math.nan if metrics is None else float(getattr(metrics, self.name))

    def regressed(self, old: float, new: float, max_regression: float, floor: float) -> bool:
        """True when `new` is worse than `old` by more than the margin; NaN on either side (nothing
        measured) is not a regression: NaN and Inf disagreements are judged apart."""
        old_bad, new_bad = self.badness(old), self.badness(new)
        if math.isnan(old_bad) or math.isnan(new_bad):
            return False
        if math.isinf(old_bad):
            return False  # it cannot get worse than infinitely bad
        return new_bad > old_bad * (1.0 + max_regression) + floor

    def ratio(self, old: float, new: float) -> float:
        """How many times worse (badness new / old): 1 unchanged, inf when it grew from exactly 0."""
        old_bad, new_bad = self.badness(old), self.badness(new)
        if math.isnan(old_bad) or math.isnan(new_bad):
            return math.nan
        if old_bad == 0.0:
            return 1.0 if new_bad == 0.0 else math.inf
        return new_bad / old_bad


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


def _share_of_atol(atol: float, rtol: float) -> float:
    return FLOOR_SHARE_OF_TOLERANCE * atol


def _share_of_rtol(atol: float, rtol: float) -> float:
    return FLOOR_SHARE_OF_TOLERANCE * rtol


def _scale_free(atol: float, rtol: float) -> float:
    return SCALE_FREE_FLOOR


GATE_METRICS: dict[str, GateMetric] = {m.name: m for m in (
    GateMetric("max_abs", "max abs error", _as_is, _share_of_atol),
    GateMetric("p99_abs", "p99 abs error", _as_is, _share_of_atol),
    GateMetric("median_abs", "median abs error", _as_is, _share_of_atol),
    GateMetric("mean_abs", "mean abs error", _as_is, _share_of_atol),
    GateMetric("max_rel", "max rel error", _as_is, _share_of_rtol),
    GateMetric("mean_rel", "mean rel error", _as_is, _share_of_rtol),
    GateMetric("cosine", "cosine", _one_minus, _scale_free, higher_is_better=True),
    GateMetric("snr_db", "SNR dB", _noise_power, _scale_free, higher_is_better=True),
)}

# The statistic each check decides on. The elementwise rule bounds every element's error, so its
# gate follows the largest one.
METRIC_OF_CHECK = {"elementwise": "max_abs", "max": "max_abs", "mean": "mean_abs", "median": "median_abs",
                   "p99": "p99_abs", "cosine": "cosine", "snr": "snr_db"}


def gate_metric(name: str) -> GateMetric:
    """The gate metric called `name`; UsageError listing the valid ones otherwise."""
    if name not in GATE_METRICS:
        choices = ", ".join(GATE_METRICS)
        raise UsageError(f"unknown gate metric '{name}'", f"valid: {choices}", f"choose one of {choices}")
    return GATE_METRICS[name]


def metric_for_check(check: str) -> GateMetric:
    """The default gate metric of a tolerance check (the check's own statistic); max abs error for
    a check this table does not know."""
    return GATE_METRICS[METRIC_OF_CHECK.get(check, "max_abs")]
