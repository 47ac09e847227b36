"""The terminal view of a Comparison: a table in topological order and a one-line verdict."""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from trtdiff.result import Comparison, ErrorMetrics, NextStep, TensorResult
from trtdiff.verdict_checks import nothing_compared

AUTO_ROWS = 40


def fmt(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "-"
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.{digits}e}"


def worst_tensors(comparison: Comparison, count: int = 5) -> list[TensorResult]:
    failing = [t for t in comparison.compared if t.passed is False and t.metrics is not None]
    return sorted(failing, key=lambda t: _severity(t), reverse=True)[:count]


def _severity(t: TensorResult) -> float:
    assert t.metrics is not None
    value = t.metrics.max_abs
    return math.inf if math.isnan(value) or t.metrics.histogram[-1:] != (0,) else value


def verdict(comparison: Comparison) -> str:
    tol = comparison.settings.tolerances
    outputs = [t for t in comparison.tensors if t.is_output]
    failing_outputs = [t for t in outputs if t.passed is False]
    word = "PASS" if comparison.passed else "FAIL"
    if comparison.passed and nothing_compared(outputs):
        word = "PASS (nothing compared)"
    checks = ", ".join(tol.checks) or tol.check
    agreement = f", min agreement {tol.min_agreement:.1%}" if tol.min_agreement < 1 else ""
    text = (f"{word}: {len(outputs) - len(failing_outputs)} of {len(outputs)} outputs within tolerance "
            f"(atol={tol.atol:g}, rtol={tol.rtol:g}, {checks}{agreement})")
    if comparison.nonfinite_reference:
        text += (f"; the FP32 reference of {', '.join(repr(n) for n in comparison.nonfinite_reference)} holds NaN/Inf"
                 + (" (accepted)" if comparison.passed else ""))
    if comparison.first_divergence:
        first = comparison.tensor(comparison.first_divergence)
        text += f"; error first exceeds tolerance at '{first.name}' ({first.op_type} node '{first.node}', #{first.index})"
    worst = worst_tensors(comparison, 1)
    if worst and worst[0].metrics is not None:
        text += f"; worst '{worst[0].name}' max_abs {fmt(worst[0].metrics.max_abs)}"
    compared = comparison.compared
    failing = sum(1 for t in compared if t.passed is False)
    text += f"; {failing} of {len(compared)} compared tensors fail"
    return text


def _rows(comparison: Comparison, mode: str) -> tuple[list[TensorResult], int]:
    tensors = list(comparison.tensors)
    if mode == "all" or (mode == "auto" and len(tensors) <= AUTO_ROWS):
        return tensors, 0
    keep = {t.name for t in worst_tensors(comparison, 10)} | {t.name for t in tensors if t.is_output}
    keep |= {o.tensor for o in comparison.offenders[:10]}
    if comparison.first_divergence:
        keep.add(comparison.first_divergence)
    if mode == "failing":
        keep |= {t.name for t in tensors if t.passed is False}
    rows = [t for t in tensors if t.name in keep]
    return rows, len(tensors) - len(rows)


def print_comparison(comparison: Comparison, console: Console, mode: str = "auto") -> None:
    """mode: auto (everything for small models, else the rows that matter), all, failing."""
    rows, hidden = _rows(comparison, mode)
    worst = {t.name for t in worst_tensors(comparison)}
    table = Table(title=f"trtdiff: {comparison.model}", caption=comparison.settings.target, show_lines=False)
    attributed = bool(comparison.offenders)
    columns = ["#", "tensor", "op", "shape", "max_abs", "mean_abs", "max_rel", "cosine", "snr_db",
               "mismatch", "nan/inf", "status"]
    if attributed:
        columns[-1:-1] = ["local", "amp"]  # local max_abs; amplification of incoming error
    for column in columns:
        table.add_column(column, justify="right" if column not in ("tensor", "op", "status") else "left",
                         overflow="fold")
    for t in rows:
        cells = _cells(t, comparison.first_divergence, worst)
        table.add_row(*(cells[:-1] + _attribution_cells(t) + cells[-1:] if attributed else cells))
    console.print(table)
    if hidden:
        console.print(f"({hidden} more tensors not shown: --table all, or open the HTML report)")
    if attributed:
        print_offenders(comparison, console)
    elif comparison.settings.attribution.startswith("skipped"):
        console.print(f"Attribution {comparison.settings.attribution}", highlight=False)
    for line in sample_lines(comparison):
        console.print(line, highlight=False)
    for warning in comparison.warnings:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    style = "bold green" if comparison.passed else "bold red"
    console.print(f"[{style}]{verdict(comparison)}[/]", highlight=False)
    print_next_steps(comparison.next_steps, console)


def print_next_steps(steps: Sequence[NextStep], console: Console) -> None:
    """The commands to try next, each on one unwrapped line (to copy), with what it does."""
    for step in steps:
        console.print(f"next: {step.command}", markup=False, highlight=False, soft_wrap=True)
        console.print(f"      ({step.why})", markup=False, highlight=False)


def _cells(t: TensorResult, first: str | None, worst: set[str]) -> list[str]:
    m = t.metrics
    status = {"compared": "ok" if t.passed else "FAIL", "reference_only": "ref only",
              "target_only": "target only", "shape_mismatch": "SHAPE"}[t.status]
    if t.name == first:
        status += " <first"
    elif t.name in worst:
        status += " (worst)"
    if t.is_output:
        status += " [output]"
    shape = "?" if t.shape is None else ("x".join(str(d) for d in t.shape) or "scalar")
    index = str(t.index) if t.index >= 0 else ""
    if m is None:
        return [index, t.name, t.op_type, shape, "", "", "", "", "", "", "", status]
    return [index, t.name, t.op_type, shape, fmt(m.max_abs), fmt(m.mean_abs), fmt(m.max_rel),
            f"{m.cosine:.6f}", f"{m.snr_db:.1f}", f"{m.mismatches}/{m.size}", _nonfinite(m),
            f"[red]{status}[/]" if t.passed is False else status]


def _attribution_cells(t: TensorResult) -> list[str]:
    local = "" if t.local is None else fmt(t.local.max_abs)
    amp = "" if t.amplification is None else fmt(t.amplification, 1)
    return [local, amp]


def print_offenders(comparison: Comparison, console: Console, count: int = 5) -> None:
    """First divergence and the nodes that introduce the most error, each with its hints."""
    if comparison.first_divergence:
        first = comparison.tensor(comparison.first_divergence)
        console.print(f"First divergence: '{first.name}' ({first.op_type} node '{first.node}', #{first.index})",
                      highlight=False)
    top = [o for o in comparison.offenders if o.score > 0][:count]
    if not top:
        console.print("Offenders: no node introduces error of its own beyond what it receives", highlight=False)
        return
    console.print("Top offenders (error a node introduces itself, fed the reference's inputs; "
                  "score = relative RMS error added):", highlight=False)
    by_name = {t.name: t for t in comparison.tensors}
    for o in top:
        console.print(f"  {o.rank}. '{o.node}' ({o.op_type}, #{o.index}) score {fmt(o.score)}", highlight=False)
        tensor = by_name.get(o.tensor)
        for hint in tensor.hints if tensor is not None else ():
            console.print(f"     {hint.kind}: {hint.message}", highlight=False)
    for chain in comparison.causes:
        console.print(f"Cause: {chain.describe()}", markup=False, highlight=False)
        for step in chain.steps[1:]:
            hint = next((h for h in by_name[step.tensor].hints if h.kind == step.kind), None) if step.tensor in by_name else None
            if hint is not None:
                console.print(f"     {hint.kind}: {hint.message}", markup=False, highlight=False)


def sample_lines(comparison: Comparison) -> list[str]:
    """Per output, how its samples fared and the task metric, e.g. "output 'logits': top-1
    agreement 99.4%, 3 of 500 samples fail (first: 4, 17, 90)". Nothing for a one-sample run
    judged elementwise (the table says it all)."""
    samples = comparison.samples
    lines = [f"Samples: {samples.description}" + (f"; reference: {samples.reference}" if samples.reference != "run"
                                                  else "")] if samples is not None and samples.count > 1 else []
    for t in comparison.tensors:
        verdicts = t.sample_verdicts
        if verdicts is None or (verdicts.count == 1 and all(c.check == "elementwise" for c in verdicts.checks)):
            continue
        parts = [check_text(c.check, c.value) for c in verdicts.checks]
        failing = f"{verdicts.failed} of {verdicts.count} samples fail"
        if verdicts.failing:
            more = ", ..." if verdicts.failed > len(verdicts.failing) else ""
            failing += f" ({', '.join(str(i) for i in verdicts.failing)}{more})"
        if verdicts.min_agreement < 1:
            failing += f"; at least {verdicts.min_agreement:.1%} must pass"
        lines.append(f"output '{t.name}': {'; '.join(parts)}; {failing}")
    if samples is not None and samples.attribution_sample is not None and samples.count > 1:
        lines.append(f"Attribution ran on sample {samples.attribution_sample}")
    return lines


def check_text(check: str, value: float) -> str:
    """A check's task metric in words: "top-1 agreement 99.4%", "cosine (worst sample) 0.99912"."""
    kind, _, threshold = check.partition(":")
    if kind == "topk":
        return f"top-{threshold} agreement {value:.1%}" if not math.isnan(value) else f"top-{threshold}: no positions"
    if kind == "cosine":
        return f"cosine {value:.6f} in the worst sample (>= {threshold})"
    if kind == "snr":
        return f"SNR {value:.1f} dB in the worst sample (>= {threshold} dB)"
    if kind == "elementwise":
        return f"elementwise: at most {value:.0f} mismatches in one sample"
    return f"{kind} error {fmt(value)} in the worst sample"


def _nonfinite(m: ErrorMetrics) -> str:
    """Target NaN/Inf counts, with the reference's in brackets when it has any."""
    text = f"{m.nan_target}/{m.inf_target}" if (m.nan_target or m.inf_target) else ""
    if m.nan_ref or m.inf_ref:
        text += f" (ref {m.nan_ref}/{m.inf_ref})"
    return text
