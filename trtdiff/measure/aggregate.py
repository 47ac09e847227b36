"""One tensor's comparison over many samples, merged as the samples stream past.

Each sample is compared on its own (`SampleResult`) and merged here: sums and counts added, maxima
kept, the error histogram summed, the bucket counts for quantiles merged (`trtdiff.measure.fine`),
the checks' pass/fail counted per sample, and the worst sample remembered. With one sample the
metrics are that sample's, exact; with more, every field is exact but the median and p99, which
are within the bound `fine.RELATIVE_BOUND` states.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from trtdiff.measure.accumulate import Totals
from trtdiff.measure.checks import Check, CheckOutcome
from trtdiff.measure.fine import FineCounts
from trtdiff.measure.metrics import Measured, metrics_from
from trtdiff.result import HISTOGRAM_DECADES, HISTOGRAM_LABELS, CheckSummary, ErrorMetrics, SampleVerdicts

LISTED_FAILURES = 20  # failing sample indices kept per tensor
_DECADE_EDGES = np.array([10.0**d for d in HISTOGRAM_DECADES])


@dataclass(frozen=True)
class SampleResult:
    """One tensor on one sample."""

    metrics: ErrorMetrics
    passed: bool
    checks: tuple[CheckOutcome, ...]
    measured: Measured | None  # None for tensors compared for equality (strings)
    shape: tuple[int, ...]
    dtype: str
    target_dtype: str

    def severity(self) -> tuple[bool, bool, float]:
        """Orders samples worst last: failing, then holding a NaN/Inf disagreement, then max_abs."""
        m = self.metrics
        disagrees = bool(m.histogram and m.histogram[-1])
        return (not self.passed, disagrees, -math.inf if math.isnan(m.max_abs) else m.max_abs)


class TensorAggregate:
    """Merges a tensor's SampleResults; `metrics()` and `verdicts()` read the totals."""

    def __init__(self, checks: Sequence[Check], first: SampleResult) -> None:
        self.checks = tuple(checks)
        self.first = first
        self.samples = 0
        self.failed = 0
        self.failing: list[int] = []
        self.worst_sample = 0
        self._worst: tuple[bool, bool, float] | None = None
        self._totals = Totals()
        self._fine = FineCounts(0, np.zeros(0, np.int64))
        self._size = 0
        self._histogram = np.zeros(len(HISTOGRAM_LABELS), np.int64)
        self._mismatches = 0
        self._check_failed = [0] * len(self.checks)
        self._check_values: list[float | None] = [None] * len(self.checks)  # the worst sample's, once seen
        self._agree = [0] * len(self.checks)
        self._positions = [0] * len(self.checks)
        self._sample_max = np.zeros(len(HISTOGRAM_LABELS), np.int64)

    def add(self, index: int, result: SampleResult) -> None:
        self.samples += 1
        if not result.passed:
            self.failed += 1
            if len(self.failing) < LISTED_FAILURES:
                self.failing.append(index)
        severity = result.severity()
        if self._worst is None or severity > self._worst:
            self._worst, self.worst_sample = severity, index
        self._size += result.metrics.size
        self._mismatches += result.metrics.mismatches
        if result.measured is not None:
            self._totals.merge(result.measured.sums, result.measured.counts)
            if result.measured.fine is not None:
                self._fine.merge(result.measured.fine)
            self._histogram += np.asarray(result.metrics.histogram, np.int64)
            self._sample_max[_decade_bin(result.metrics)] += 1
        for position, outcome in enumerate(result.checks):
            self._merge_check(position, outcome)

    def _merge_check(self, position: int, outcome: CheckOutcome) -> None:
        check = self.checks[position]
        if not outcome.passed:
            self._check_failed[position] += 1
        self._agree[position] += outcome.agree
        self._positions[position] += outcome.positions
        value, current = outcome.value, self._check_values[position]
        worst_is_low = check.kind in ("cosine", "snr")
        if current is None or math.isnan(value):  # NaN (no element finite on both sides) is the worst
            self._check_values[position] = value
        elif not math.isnan(current) and (value < current if worst_is_low else value > current):
            self._check_values[position] = value

    def metrics(self) -> ErrorMetrics:
        measured = self.first.measured
        if measured is None:
            return self.first.metrics if self.samples == 1 else \
                _equality_metrics(self.first.metrics, self._size, self._mismatches)
        if self.samples == 1 and measured.exact_quantiles:
            return self.first.metrics
        totals = self._totals
        median, p99 = self._fine.quantiles((0.5, 0.99), totals.zeros, totals.max_abs)
        return metrics_from(totals, self._size, median, p99, self._histogram)

    def passed(self, min_agreement: float) -> bool:
        return self.samples > 0 and (self.samples - self.failed) >= math.ceil(min_agreement * self.samples - 1e-9)

    def verdicts(self, min_agreement: float) -> SampleVerdicts:
        summaries = tuple(
            CheckSummary(str(check.label), self._summary_value(i), self._check_failed[i])
            for i, check in enumerate(self.checks))
        return SampleVerdicts(self.samples, self.failed, tuple(self.failing), summaries, min_agreement,
                              tuple(int(c) for c in self._sample_max))

    def _summary_value(self, position: int) -> float:
        if self.checks[position].kind == "topk":
            return self._agree[position] / self._positions[position] if self._positions[position] else math.nan
        value = self._check_values[position]
        return math.nan if value is None else value


def _decade_bin(metrics: ErrorMetrics) -> int:
    """The HISTOGRAM_LABELS bin of a sample's max_abs (the last bin: a NaN/Inf disagreement)."""
    if metrics.histogram and metrics.histogram[-1]:
        return len(HISTOGRAM_LABELS) - 1
    value = metrics.max_abs
    if math.isnan(value) or value == 0:
        return 0
    return 1 + int(np.searchsorted(_DECADE_EDGES, value, side="left"))


def _equality_metrics(first: ErrorMetrics, size: int, mismatches: int) -> ErrorMetrics:
    from dataclasses import replace

    return replace(first, size=size, mismatches=mismatches)
