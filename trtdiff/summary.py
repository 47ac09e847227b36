"""What the terminal and the report lead with, decided once for both: the verdict's counts, the
divergence to name first (and why), the offenders worth naming, and the next command to try.

Nothing is computed from tensors here: the result already holds the tolerance-based first failure,
the SNR-based significant divergence (trtdiff.measure.divergence) and the offender ranking
(trtdiff.attribution); this module chooses what to say about them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from trtdiff.measure.checks import checks_for, parse_check
from trtdiff.measure.divergence import divergence_reason, nonfinite_disagreements
from trtdiff.result import Comparison, NextStep, Offender, TensorResult

# An offender is named only when its score is at least this share of the top score: the ranking
# lists every node with a local error, most of them adding plain rounding (~3e-4 in FP16).
OFFENDER_FLOOR = 0.01
OFFENDER_FLOOR_TEXT = f"score at least {OFFENDER_FLOOR:.0%} of the top score"


@dataclass(frozen=True)
class Counts:
    """What the verdict rests on."""

    outputs: int
    failing_outputs: int  # outside tolerance or not compared
    compared: int
    failing: int
    not_compared: int


def counts(comparison: Comparison) -> Counts:
    by_name = {t.name: t for t in comparison.tensors}
    names = list(comparison.outputs) or [t.name for t in comparison.tensors if t.is_output]
    outputs = [by_name.get(n) for n in names]
    failing_outputs = sum(1 for t in outputs if t is None or t.passed is not True)
    compared = [t for t in comparison.compared if t.passed is not None]
    return Counts(len(outputs), failing_outputs, len(compared), sum(1 for t in compared if t.passed is False),
                  len(comparison.tensors) - len(comparison.compared))


def worst_key(tensor: TensorResult) -> float:
    """Sort key for 'worst': the largest max_abs, NaN/Inf disagreements (or a NaN max_abs) counting
    as infinitely bad, no metrics as least."""
    m = tensor.metrics
    if m is None:
        return -math.inf
    return math.inf if math.isnan(m.max_abs) or nonfinite_disagreements(m) else m.max_abs


def worst_failing(comparison: Comparison, count: int) -> list[TensorResult]:
    """The `count` worst tensors outside tolerance, worst first."""
    failing = [t for t in comparison.compared if t.passed is False and t.metrics is not None]
    return sorted(failing, key=worst_key, reverse=True)[:count]


@dataclass(frozen=True)
class DivergenceSummary:
    """The tensor to lead with, why, and the other first divergence when the two differ."""

    lead: TensorResult
    significant: bool  # the lead is the SNR-based divergence (else the first tolerance failure)
    why: str
    other: TensorResult | None = None  # the first tolerance failure, when it is not the lead
    other_why: str = ""


def divergence_summary(comparison: Comparison) -> DivergenceSummary | None:
    """Lead with the first tensor whose error is large relative to its values; name the first
    tolerance failure beside it when it is another tensor (e.g. a scaled tensor that fails only
    the absolute atol). None when neither exists."""
    significant = _tensor_named(comparison, comparison.significant_divergence)
    first = _tensor_named(comparison, comparison.first_divergence)
    threshold = comparison.settings.divergence_snr_db
    if significant is None and first is None:
        return None
    if significant is None:
        assert first is not None
        return DivergenceSummary(first, False, _reason(first, threshold))
    why = _reason(significant, threshold)
    if first is None or first.name == significant.name:
        said = "first outside tolerance" if first is not None else "within tolerance"
        return DivergenceSummary(significant, True, f"{why}; {said}")
    if significant.passed is not False:
        why += "; within tolerance"
    return DivergenceSummary(significant, True, why, first,
                             f"first outside tolerance, but {_reason(first, threshold)}")


def _tensor_named(comparison: Comparison, name: str | None) -> TensorResult | None:
    """The tensor of that name; a bare stand-in when the result names one it does not list (a
    hand-edited or inconsistent file), so that the name is still shown."""
    if not name:
        return None
    try:
        return comparison.tensor(name)
    except KeyError:
        return TensorResult(name, "", "", -1, None, "")


def _reason(tensor: TensorResult, threshold: float) -> str:
    return divergence_reason(tensor.metrics, threshold) if tensor.metrics is not None else "no metrics"


def named_offenders(comparison: Comparison) -> list[Offender]:
    """Offenders by rank whose score is positive and at least OFFENDER_FLOOR of the top score
    (with an infinite top score, the other infinite ones only)."""
    ranked = sorted((o for o in comparison.offenders if o.score > 0 and not math.isnan(o.score)),
                    key=lambda o: o.rank)
    if not ranked:
        return []
    floor = max(o.score for o in ranked) * OFFENDER_FLOOR
    return [o for o in ranked if o.score >= floor]


def next_steps(comparison: Comparison) -> tuple[NextStep, ...]:
    """The commands to try next, computed by the library and stored on the result
    (trtdiff.next_step): after a bisect (`Comparison.bisect`), the one that applies its plan."""
    bisect = comparison.bisect if isinstance(comparison.bisect, dict) else None
    if bisect is None:
        return comparison.next_steps
    return tuple(NextStep(str(s.get("command", "")), str(s.get("why", "")))
                 for s in bisect.get("next_steps") or () if isinstance(s, dict))


def elementwise_decided(comparison: Comparison) -> frozenset[str]:
    """The tensors whose verdict an elementwise check decides: a graph output (or --outputs
    tensor) by its own checks, every other tensor by the checks a non-output gets."""
    tolerances = comparison.settings.tolerances
    shared = tuple(parse_check(text) for text in tolerances.checks)
    decided = set()
    for tensor in comparison.tensors:
        verdicts = tensor.sample_verdicts
        if verdicts is not None and verdicts.checks:
            kinds = {summary.check.partition(":")[0] for summary in verdicts.checks}
        else:
            kinds = {c.kind for c in checks_for(shared, tensor.name, False, tolerances.check)}
        if "elementwise" in kinds:
            decided.add(tensor.name)
    return frozenset(decided)
