"""The profile comparison that `check` and `diff` share: two per-tensor error profiles in, the gate
per graph output and where the new error starts out.

Tensors are matched by name only, never by position: a tensor on one side only is listed as
appeared or vanished. For every tensor on both sides, its gate metric (the output's chosen one, or
the default) is compared with the margin of `trtdiff.baseline.metrics`. The gate holds when every
graph output of the candidate passes its own tolerance check and did not regress; with
`fail_on="all"` no tensor may regress or gain NaN/Inf either.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from trtdiff.baseline.metrics import GateMetric, default_metric, gate_metric, metric_of_output
from trtdiff.baseline.profile import Profile
from trtdiff.baseline.wording import fmt, percent, ratio_words
from trtdiff.errors import UsageError
from trtdiff.result import ErrorMetrics, TensorResult

DEFAULT_MAX_REGRESSION = 0.10
GREW_MOST = 10
FAIL_ON = ("outputs", "all")


@dataclass(frozen=True)
class GatePolicy:
    """How much worse is allowed, and by which metric."""

    max_regression: float = DEFAULT_MAX_REGRESSION  # relative: 0.1 = 10 % worse allowed
    floor: float | None = None  # absolute, in the metric's badness units; None: 1 % of the tolerance
    metric: str | None = None  # for every tensor; None or "check": the tolerance check's own statistic
    output_metrics: dict[str, str] = field(default_factory=dict)  # NAME -> metric, for one output
    fail_on: str = "outputs"

    def __post_init__(self) -> None:
        if not math.isfinite(self.max_regression) or self.max_regression < 0:
            raise UsageError(f"--max-regression {self.max_regression:g} is not usable",
                             "it is how much worse than the baseline is allowed, a number >= 0",
                             "for example --max-regression 0.1 (10 %)")
        if self.floor is not None and (not math.isfinite(self.floor) or self.floor < 0):
            raise UsageError(f"--regression-floor {self.floor:g} is not usable", "it is a number >= 0",
                             "for example --regression-floor 1e-5")
        if self.fail_on not in FAIL_ON:
            raise UsageError(f"unknown --fail-on '{self.fail_on}'", f"valid: {', '.join(FAIL_ON)}",
                             "choose outputs or all")
        for name in [self.metric or "check", *self.output_metrics.values()]:
            if name != "check":
                gate_metric(name)  # a UsageError naming the valid ones


@dataclass(frozen=True)
class TensorChange:
    """One tensor present on both sides: its gate metric before and after."""

    name: str
    node: str
    op_type: str
    index: int  # topological index in the candidate
    is_output: bool
    metric: str
    baseline: float
    candidate: float
    ratio: float  # badness new / old: 1 unchanged, > 1 worse
    limit: float  # the worst candidate value the margin allows (in the metric's own units)
    regressed: bool
    nonfinite_baseline: int  # NaN/Inf disagreements with the reference
    nonfinite_candidate: int

    @property
    def new_nonfinite(self) -> bool:
        return self.nonfinite_candidate > self.nonfinite_baseline

    def describe(self, code: Callable[[str], str] | None = None) -> str:
        """'name' (Op node 'node', #index): metric old -> new (ratio)[, NaN/Inf disagreements a -> b].
        `code` marks up the model-supplied strings (name, op type, node) instead of quotes."""
        name, op, node = ((code(self.name), code(self.op_type), code(self.node)) if code
                          else (f"'{self.name}'", self.op_type, f"'{self.node}'"))
        text = (f"{name} ({op} node {node}, #{self.index}): "
                f"{self.metric} {fmt(self.baseline)} -> {fmt(self.candidate)} ({ratio_words(self.ratio)})")
        if self.new_nonfinite:
            text += f", NaN/Inf disagreements {self.nonfinite_baseline} -> {self.nonfinite_candidate}"
        return text


@dataclass(frozen=True)
class OutputVerdict:
    """The gate for one graph output."""

    name: str
    check: str  # the tolerance check it is judged by (JUnit groups outputs by it)
    metric: str
    baseline: float | None  # None: the output is new
    candidate: float | None  # None: the candidate did not produce or compare it
    limit: float | None
    passed_check: bool  # the candidate passed its own tolerance check
    regressed: bool
    reason: str  # empty when it passed; otherwise why, with the numbers

    @property
    def passed(self) -> bool:
        return not self.reason


@dataclass(frozen=True)
class ProfileDiff:
    baseline_source: str
    candidate_source: str
    policy: GatePolicy
    outputs: tuple[OutputVerdict, ...]
    changes: tuple[TensorChange, ...]  # every tensor on both sides, candidate topological order
    appeared: tuple[str, ...]  # only in the candidate
    vanished: tuple[str, ...]  # only in the baseline

    @property
    def regressions(self) -> tuple[TensorChange, ...]:
        """Tensors whose error grew beyond the margin or gained NaN/Inf, in topological order."""
        return tuple(c for c in self.changes if c.regressed or c.new_nonfinite)

    @property
    def first_regression(self) -> TensorChange | None:
        """Where the new error starts: the first regressed tensor in topological order."""
        regressions = self.regressions
        return regressions[0] if regressions else None

    @property
    def grew_most(self) -> tuple[TensorChange, ...]:
        ranked = sorted(self.regressions, key=lambda c: (-_severity(c), c.index))
        return tuple(ranked[:GREW_MOST])

    @property
    def new_nonfinite(self) -> tuple[TensorChange, ...]:
        return tuple(c for c in self.changes if c.new_nonfinite)

    @property
    def no_new_error(self) -> bool:
        return not self.regressions

    @property
    def passed(self) -> bool:
        outputs_hold = bool(self.outputs) and all(o.passed for o in self.outputs)
        return outputs_hold and (self.policy.fail_on == "outputs" or self.no_new_error)


def _severity(change: TensorChange) -> float:
    """Gaining NaN/Inf ranks above any finite growth; then the ratio new/old."""
    if change.new_nonfinite:
        return math.inf
    return -math.inf if math.isnan(change.ratio) else change.ratio


def compare_profiles(baseline: Profile, candidate: Profile, policy: GatePolicy = GatePolicy()) -> ProfileDiff:
    """The gate of `candidate` against `baseline`; UsageError when they share no compared tensor."""
    old = baseline.by_name()
    new = candidate.by_name()
    default = gate_metric(policy.metric) if policy.metric not in (None, "check") else default_metric(
        candidate.tolerances)
    changes = []
    for tensor in candidate.tensors:
        before = old.get(tensor.name)
        if before is not None and before.metrics is not None and tensor.metrics is not None:
            metric = _metric_for(tensor.name, before, tensor, policy, default)
            changes.append(_change(before, tensor, metric, policy))
    if not changes:
        raise UsageError(f"{candidate.source or 'the candidate'} shares no compared tensor with "
                         f"{baseline.source or 'the baseline'}",
                         "tensors are matched by name, and no name was compared on both sides",
                         "check that both come from the same model (or a re-export that keeps tensor names)")
    verdicts = tuple(_output_verdict(name, old.get(name), new.get(name), policy, default, candidate.tolerances.check)
                     for name in dict.fromkeys(candidate.outputs + baseline.outputs))
    return ProfileDiff(baseline.source, candidate.source, policy, verdicts, tuple(changes),
                       appeared=tuple(n for n in new if n not in old),
                       vanished=tuple(n for n in old if n not in new))


def _metric_for(name: str, before: TensorResult | None, after: TensorResult | None, policy: GatePolicy,
                default: GateMetric) -> GateMetric:
    """One output's chosen metric, else the metric for all, else the output's check statistic,
    else the default."""
    chosen = policy.output_metrics.get(name) or policy.metric or "check"
    if chosen != "check":
        return gate_metric(chosen)
    return metric_of_output(after) or metric_of_output(before) or default


def _floor(metric: GateMetric, tensor: TensorResult, policy: GatePolicy) -> float:
    return policy.floor if policy.floor is not None else metric.floor(tensor.atol, tensor.rtol)


def _nonfinite(metrics: ErrorMetrics) -> int:
    return int(metrics.histogram[-1]) if metrics.histogram else 0


def _change(before: TensorResult, after: TensorResult, metric: GateMetric, policy: GatePolicy) -> TensorChange:
    assert before.metrics is not None and after.metrics is not None
    old, new = metric.value(before), metric.value(after)
    floor = _floor(metric, after, policy)
    return TensorChange(
        after.name, after.node, after.op_type, after.index, after.is_output, metric.name, old, new,
        ratio=metric.ratio(old, new),
        limit=metric.limit(old, floor, policy.max_regression),
        regressed=metric.regressed(old, new, policy.max_regression, floor),
        nonfinite_baseline=_nonfinite(before.metrics),
        nonfinite_candidate=_nonfinite(after.metrics),
    )


def _output_verdict(name: str, before: TensorResult | None, after: TensorResult | None, policy: GatePolicy,
                    default: GateMetric, check_all: str) -> OutputVerdict:
    metric = _metric_for(name, before, after, policy, default)
    check = _checks_of(after or before) or check_all
    if after is None or after.metrics is None:
        status = "it is not in the candidate" if after is None else f"the candidate's status is {after.status}"
        return OutputVerdict(name, check, metric.name, _value(metric, before), None, None, False, False,
                             f"output '{name}' was not compared: {status}")
    new = metric.value(after)
    passed_check = after.passed is True
    check_reason = "" if passed_check else f"output '{name}' fails its tolerance check ({_check_words(after)})"
    if before is None or before.metrics is None:
        return OutputVerdict(name, check, metric.name, None, new, None, passed_check, False, check_reason)
    change = _change(before, after, metric, policy)
    reasons = [check_reason] if check_reason else []
    if change.regressed:
        reasons.append(f"{metric.label} {fmt(change.baseline)} -> {fmt(change.candidate)} "
                       f"({ratio_words(change.ratio)}), limit {fmt(change.limit)} "
                       f"(+{percent(policy.max_regression)} and floor)")
    if change.new_nonfinite:
        reasons.append(f"NaN/Inf disagreements {change.nonfinite_baseline} -> {change.nonfinite_candidate}")
    return OutputVerdict(name, check, metric.name, change.baseline, new, change.limit, passed_check,
                         change.regressed or change.new_nonfinite, "; ".join(reasons))


def _value(metric: GateMetric, tensor: TensorResult | None) -> float | None:
    return None if tensor is None or tensor.metrics is None else metric.value(tensor)


def _checks_of(tensor: TensorResult | None) -> str:
    """The checks that judged a tensor over the samples ("topk:1, cosine:0.999"); "" when unknown."""
    if tensor is None or tensor.sample_verdicts is None:
        return ""
    return ", ".join(s.check for s in tensor.sample_verdicts.checks)


def _check_words(tensor: TensorResult) -> str:
    assert tensor.metrics is not None
    m, verdicts = tensor.metrics, tensor.sample_verdicts
    if verdicts is not None and verdicts.count > 1:
        return (f"{verdicts.failed} of {verdicts.count} samples fail {_checks_of(tensor) or 'the check'}, "
                f"at least {percent(verdicts.min_agreement)} must pass")
    return (f"max abs error {fmt(m.max_abs)}, {m.mismatches} of {m.size} elements out of "
            f"atol={tensor.atol:g}, rtol={tensor.rtol:g}")
