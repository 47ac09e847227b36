"""The terminal view of a Comparison.

Results go to stdout, in reading order: the tensor table (fitted to the terminal, see
terminal_table), then what to take away, last so that it stays on screen: the verdict, the first
divergence, the top offenders and the next command to try. Warnings go to stderr, before the
table. `quiet` prints the verdict line alone. Colour follows rich: none when stdout is not a
terminal or NO_COLOR is set.
"""

from __future__ import annotations

import io
import os
import re
import sys
from collections.abc import Sequence
from typing import TextIO

from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from trtdiff import formatting as fmt
from trtdiff.measure.checks import describe_check
from trtdiff.result import Comparison, NextStep, TensorResult
from trtdiff.summary import (
    OFFENDER_FLOOR_TEXT,
    counts,
    elementwise_decided,
    divergence_summary,
    named_offenders,
    next_steps,
    worst_failing,
)
from trtdiff.terminal_table import Marks, natural_width, tensor_table
from trtdiff.verdict_checks import nothing_compared

AUTO_ROWS = 40
TOP_OFFENDERS = 5
PIPE_WIDTH = 160  # stdout is a file or a pipe (CI logs) and COLUMNS is unset: do not fold to 80


class _TrimmedLines(io.TextIOBase):
    """`stream` with the spaces at line ends left out: rich pads table cells to their column's
    width, which a log or a file read later does not need."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(_LINE_END_SPACES.sub("\n", text))
        return len(text)

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return False


_LINE_END_SPACES = re.compile(r" +\n")


def consoles() -> tuple[Console, Console]:
    """(stdout, stderr) consoles; model strings are printed as text, never as rich markup. Where
    a stream is not a terminal, lines carry no trailing spaces."""
    out = Console(highlight=False)
    err = Console(stderr=True, highlight=False)
    if not out.is_terminal:
        out = Console(highlight=False, file=_TrimmedLines(sys.stdout))
    if not err.is_terminal:
        err = Console(highlight=False, file=_TrimmedLines(sys.stderr))
    for console in (out, err):
        if not console.is_terminal and "COLUMNS" not in os.environ:
            console.width = PIPE_WIDTH
    return out, err


def verdict(comparison: Comparison) -> str:
    """One line: PASS/FAIL and what it rests on."""
    tol = comparison.settings.tolerances
    c = counts(comparison)
    checks = ", ".join(tol.checks) or tol.check
    agreement = f", min agreement {fmt.fmt_share_exact(tol.min_agreement)}" if tol.min_agreement < 1 else ""
    word = "PASS" if comparison.passed else "FAIL"
    if comparison.passed and nothing_compared([t for t in comparison.tensors if t.is_output]):
        word = "PASS (nothing compared)"
    atol, rtol = fmt.fmt_exact(tol.atol), fmt.fmt_exact(tol.rtol)
    text = (f"{word}: {c.outputs - c.failing_outputs} of {c.outputs} "
            f"outputs within tolerance (atol {atol}, rtol {rtol}, {checks}{agreement}); "
            f"{c.failing} of {c.compared} compared tensors outside tolerance")
    if comparison.nonfinite_reference:
        text += (f"; the FP32 reference of {', '.join(repr(n) for n in comparison.nonfinite_reference)} holds NaN/Inf"
                 + (" (accepted)" if comparison.passed else ""))
    if c.not_compared:
        text += f"; {c.not_compared} not compared"
    return text


def select_rows(comparison: Comparison, mode: str) -> tuple[list[TensorResult], int]:
    """mode: auto (every tensor of a small model, else the ones that matter), all, failing."""
    tensors = list(comparison.tensors)
    if mode == "all" or (mode == "auto" and len(tensors) <= AUTO_ROWS):
        return tensors, 0
    keep = {t.name for t in worst_failing(comparison, 10)} | {t.name for t in tensors if t.is_output}
    keep |= {o.tensor for o in named_offenders(comparison)[:10]}
    keep |= {n for n in (comparison.first_divergence, comparison.significant_divergence) if n}
    if mode == "failing":
        keep |= {t.name for t in tensors if t.passed is False}
    rows = [t for t in tensors if t.name in keep]
    return rows, len(tensors) - len(rows)


def print_comparison(comparison: Comparison, out: Console, err: Console | None = None, *,
                     mode: str = "auto", wide: bool = False, quiet: bool = False) -> None:
    """The whole terminal view (warnings on `err`, the rest on `out`)."""
    if quiet:  # one line, however long: for scripts
        _print_verdict(comparison, out, soft_wrap=True)
        return
    for warning in comparison.warnings:
        (err or out).print(Text.assemble(("warning: ", "yellow"), warning))
    rows, hidden = select_rows(comparison, mode)
    marks = Marks(comparison.first_divergence, comparison.significant_divergence, elementwise_decided(comparison))
    out.print(Text(f"trtdiff: {comparison.model}: {comparison.settings.target} "
                   f"vs {comparison.settings.reference}"), soft_wrap=wide)
    table = tensor_table(comparison, rows, marks, out, wide=wide)
    if wide:
        _print_unclamped(out, table)
    else:
        out.print(table)
    if hidden:
        out.print(f"({hidden} more tensors not shown: --table all, or open the HTML report)")
    for line in sample_lines(comparison):
        out.print(Text(line))
    print_summary(comparison, out)


def _print_unclamped(out: Console, table: Table) -> None:
    """`table` at its natural width, wider than the console if need be (rich clamps a print's
    width to the console's, so the console is widened for the one print)."""
    width = out.width
    out.width = max(width, natural_width(out, table))
    try:
        out.print(table, crop=False)
    finally:
        out.width = width


def print_summary(comparison: Comparison, out: Console) -> None:
    """Verdict, first divergence, top offenders, next command: the lines to read first."""
    _print_verdict(comparison, out)
    print_divergence(comparison, out)
    print_offenders(comparison, out)
    print_next_steps(next_steps(comparison), out)


def print_next_steps(steps: Sequence[NextStep], out: Console) -> None:
    """The commands to try next, each on one unwrapped line (to copy), with what it does."""
    for step in steps:
        out.print(Text.assemble(("Next: ", "bold"), step.command), soft_wrap=True)
        out.print(Text(f"      ({step.why})"))


def _print_verdict(comparison: Comparison, out: Console, soft_wrap: bool = False) -> None:
    out.print(Text(verdict(comparison), style="bold green" if comparison.passed else "bold red"), soft_wrap=soft_wrap)


def _where(tensor: TensorResult) -> str:
    return f"'{tensor.name}' ({tensor.op_type} node '{tensor.node}', #{tensor.index})"


def print_divergence(comparison: Comparison, out: Console) -> None:
    """The divergence to look at first and why; the first tolerance failure beside it when it is
    another tensor."""
    summary = divergence_summary(comparison)
    if summary is None:
        return
    label = "First divergence" if summary.significant else "First tolerance failure"
    out.print(Text(f"{label}: {_where(summary.lead)}: {summary.why}"))
    if summary.other is not None:
        out.print(Padding(Text(f"{_where(summary.other)} is {summary.other_why}"), (0, 0, 0, 2), expand=False))


def print_offenders(comparison: Comparison, out: Console, count: int = TOP_OFFENDERS) -> None:
    """The nodes that introduce the most error, each with its cause hints."""
    if not comparison.offenders:
        if comparison.settings.attribution.startswith("skipped"):
            out.print(f"Attribution {comparison.settings.attribution}")
        return
    named = named_offenders(comparison)
    if not named:
        out.print("Offenders: no node introduces error of its own beyond what it receives")
        return
    out.print(f"Top offenders (error a node introduces itself, fed the reference's inputs; "
              f"score = relative RMS error added; {OFFENDER_FLOOR_TEXT}):")
    by_name = {t.name: t for t in comparison.tensors}
    for offender in named[:count]:
        out.print(Text(f"  {offender.rank}. '{offender.node}' ({offender.op_type}, #{offender.index}) "
                       f"score {fmt.fmt_error(offender.score)}"))
        tensor = by_name.get(offender.tensor)
        for hint in tensor.hints if tensor is not None else ():
            out.print(Padding(Text(f"{hint.kind}: {hint.message}"), (0, 0, 0, 5), expand=False))
    if len(named) > count:
        out.print(f"  ({len(named) - count} more in the HTML report)")
    print_causes(comparison, out)


def print_causes(comparison: Comparison, out: Console) -> None:
    """Each cause chain on one line, then the hints of the nodes it passes through."""
    by_name = {t.name: t for t in comparison.tensors}
    for chain in comparison.causes:
        out.print(Text(f"Cause: {chain.describe()}"))
        for step in chain.steps[1:]:
            tensor = by_name.get(step.tensor)
            hint = next((h for h in tensor.hints if h.kind == step.kind), None) if tensor is not None else None
            if hint is not None:
                out.print(Padding(Text(f"{hint.kind}: {hint.message}"), (0, 0, 0, 5), expand=False))


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
        parts = [describe_check(c.check, c.value) for c in verdicts.checks]
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
