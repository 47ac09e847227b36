"""The gate in the terminal: one row per graph output, where the new error starts, the tensors that
grew most, and the tensors on one side only, then a one-line verdict."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from trtdiff.baseline.profile_diff import ProfileDiff
from trtdiff.baseline.wording import fmt, nonfinite_words, percent, ratio_words

LISTED = 10


def print_diff(diff: ProfileDiff, console: Console, quiet: bool = False) -> None:
    """The tables and the verdict line; `quiet`: the verdict line only."""
    if quiet:
        console.print(verdict_line(diff), soft_wrap=True)
        return
    table = Table(title=f"regression gate: {escape(diff.candidate_source)} vs {escape(diff.baseline_source)}")
    for column in ("output", "metric", "baseline", "candidate", "limit", "verdict"):
        table.add_column(column, justify="right" if column in ("baseline", "candidate", "limit") else "left")
    for o in diff.outputs:
        verdict = "[green]pass[/]" if o.passed else f"[red]FAIL[/] {escape(o.reason)}"
        table.add_row(escape(o.name), o.metric, fmt(o.baseline), fmt(o.candidate), fmt(o.limit), verdict)
    console.print(table)
    if diff.grew_most:
        grew = Table(title="grew most (new / old)")
        for column in ("#", "tensor", "op", "metric", "baseline", "candidate", "ratio", "NaN/Inf"):
            grew.add_column(column, justify="right" if column not in ("tensor", "op", "metric") else "left")
        for c in diff.grew_most:
            grew.add_row(str(c.index), escape(c.name), escape(c.op_type), c.metric, fmt(c.baseline),
                         fmt(c.candidate), ratio_words(c.ratio), nonfinite_words(c))
        console.print(grew)
    for label, names in (("only in the candidate", diff.appeared), ("only in the baseline", diff.vanished)):
        if names:
            shown = ", ".join(names[:LISTED]) + (f" and {len(names) - LISTED} more" if len(names) > LISTED else "")
            console.print(f"{len(names)} tensors {label}: {escape(shown)}")
    console.print(verdict_line(diff), soft_wrap=True)


def verdict_line(diff: ProfileDiff) -> str:
    failing = [o for o in diff.outputs if not o.passed]
    word = "[green]PASS[/]" if diff.passed else "[red]FAIL[/]"
    text = (f"{word}: {len(diff.outputs) - len(failing)} of {len(diff.outputs)} outputs hold "
            f"(at most {percent(diff.policy.max_regression)} worse than the baseline, within tolerance)")
    first = diff.first_regression
    if first is None:
        return text + f"; no new error in {len(diff.changes)} tensors compared on both sides"
    return text + escape(f"; new error starts at {first.describe()}; {len(diff.regressions)} of "
                         f"{len(diff.changes)} tensors grew beyond the margin")
