"""The gate as a short markdown summary, for a CI step summary (GitHub's `$GITHUB_STEP_SUMMARY`, a
merge-request comment): the verdict, one row per graph output, where the new error starts, the
tensors that grew most, and those on one side only."""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from trtdiff.baseline.profile_diff import ProfileDiff, TensorChange
from trtdiff.baseline.wording import fmt, nonfinite_words, percent, ratio_words

LISTED = 20


def markdown_summary(diff: ProfileDiff, facts: Mapping[str, str], *, title: str = "trtdiff check",
                     golden: Mapping[str, Any] | None = None) -> str:
    """The summary as markdown text; `facts` (versions, paths) go into a closing list; `golden`:
    the gate JSON's "golden" object (`check --against golden`)."""
    word = "PASS" if diff.passed and (not golden or golden.get("passed")) else "FAIL"
    failing = sum(1 for o in diff.outputs if not o.passed)
    lines = [f"## {title}: {word}", "",
             f"{len(diff.outputs) - failing} of {len(diff.outputs)} outputs hold (at most "
             f"{percent(diff.policy.max_regression)} worse than the baseline, and within tolerance).", "",
             "| output | metric | baseline | candidate | limit | verdict |",
             "| --- | --- | ---: | ---: | ---: | --- |"]
    for o in diff.outputs:
        verdict = "pass" if o.passed else f"**fail**: {_text(o.reason)}"
        lines.append(f"| `{_cell(o.name)}` | {o.metric} | {fmt(o.baseline)} | {fmt(o.candidate)} | "
                     f"{fmt(o.limit)} | {verdict} |")
    if golden:
        failing = [str(o.get("name")) for o in golden.get("outputs", []) if not o.get("passed")]
        lines += ["", "Against the baseline's golden outputs: " + (
            "every output matches." if not failing else "**differs** at " + ", ".join(f"`{_cell(n)}`" for n in failing))]
    lines += ["", *_where(diff), *_one_side(diff)]
    if facts:
        lines += ["", *(f"- {_text(key)}: {_text(str(value))}" for key, value in sorted(facts.items()))]
    return "\n".join(lines).rstrip() + "\n"


def _where(diff: ProfileDiff) -> list[str]:
    first = diff.first_regression
    if first is None:
        return [f"No new error: none of the {len(diff.changes)} tensors compared on both sides grew beyond "
                "the margin."]
    lines = [f"**New error starts at** {_change(first)}.", "",
             f"{len(diff.regressions)} of {len(diff.changes)} tensors grew beyond the margin; the most:", "",
             "| # | tensor | op | metric | baseline | candidate | ratio | NaN/Inf |",
             "| ---: | --- | --- | --- | ---: | ---: | ---: | ---: |"]
    for c in diff.grew_most:
        lines.append(f"| {c.index} | `{_cell(c.name)}` | {_text(c.op_type)} | {c.metric} | {fmt(c.baseline)} | "
                     f"{fmt(c.candidate)} | {ratio_words(c.ratio)} | {nonfinite_words(c)} |")
    return lines


def _one_side(diff: ProfileDiff) -> list[str]:
    lines = []
    for label, names in (("Only in the candidate", diff.appeared), ("Only in the baseline", diff.vanished)):
        if names:
            shown = ", ".join(f"`{_cell(n)}`" for n in names[:LISTED])
            more = f" and {len(names) - LISTED} more" if len(names) > LISTED else ""
            lines += ["", f"{label} ({len(names)}): {shown}{more}"]
    return lines


def _change(c: TensorChange) -> str:
    """The change with names as inline code (so a model's names cannot become markup)."""
    return c.describe(code=lambda text: f"`{_cell(text)}`")


def _cell(text: str) -> str:
    """Text safe inside a table cell and inline code: no pipes, backticks or line breaks."""
    return text.replace("|", "\\|").replace("`", "'").replace("\n", " ")


def _text(text: str) -> str:
    """Plain text (not code) safe in a table cell: model-supplied names cannot become HTML."""
    return _cell(html.escape(text, quote=False))
