"""The report's regression-gate section (a `trtdiff check` result): the verdict per output against
the baseline, where the new error starts, the baseline's and the candidate's per-layer error on
one chart, and the profile diff table.

Built from `Comparison.gate`, the JSON form of the gate (`trtdiff.baseline.gate_json`), so that a
report written later from the saved `--json` shows the same section.
"""

from __future__ import annotations

import io
import math
from typing import Any

from markupsafe import Markup

from trtdiff.baseline.metrics import GATE_METRICS, check_statistic
from trtdiff import formatting as fmt
from trtdiff.report.plots import inline_svg, short

COLOURS = {"baseline": "#7a7a7a", "candidate": "#1f5fa8", "regressed": "#c62828", "start": "#555555"}
TABLE_ROWS = 200
LISTED = 50
_SPECIAL = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}


def _number(value: Any) -> float | None:
    if isinstance(value, str):
        return _SPECIAL.get(value)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _badness(metric: str, value: Any) -> float | None:
    number = _number(value)
    known = GATE_METRICS.get(metric) or check_statistic(metric)
    return None if number is None or known is None else known.badness(number)


def _ratio(value: Any) -> str:
    number = _number(value)
    if number is None or math.isnan(number):
        return fmt.MISSING
    return "from 0" if math.isinf(number) else f"{number:.2f}×"


def _tensor_row(t: dict[str, Any]) -> dict[str, str]:
    grew = bool(t.get("regressed")) or bool(t.get("new_nonfinite"))
    nonfinite = (f"{t.get('nonfinite_baseline')} → {t.get('nonfinite_candidate')}"
                 if t.get("new_nonfinite") else "")
    return {"index": str(t.get("index", "")), "name": str(t.get("name", "")), "op_type": str(t.get("op_type", "")),
            "metric": str(t.get("metric", "")), "baseline": fmt.fmt_error(_number(t.get("baseline"))),
            "candidate": fmt.fmt_error(_number(t.get("candidate"))), "ratio": _ratio(t.get("ratio")),
            "nonfinite": nonfinite, "css": "fail" if grew else "pass"}


def gate_view(gate: dict[str, Any] | None) -> dict[str, Any] | None:
    """The section's context, or None when the result holds no gate."""
    if not gate:
        return None
    passed = gate.get("passed") is True
    tensors = [t for t in gate.get("tensors") or [] if isinstance(t, dict)]
    grew = [t for t in tensors if t.get("regressed") or t.get("new_nonfinite")]
    first = gate.get("first_regression")
    return {
        "label": "holds" if passed else "fails",
        "css": "pass" if passed else "fail",
        "baseline": str(gate.get("baseline", "")),
        "margin": f"{100.0 * (_number((gate.get('policy') or {}).get('max_regression')) or 0.0):g}%",
        "outputs": [{"name": str(o.get("name", "")), "metric": str(o.get("metric", "")),
                     "baseline": fmt.fmt_error(_number(o.get("baseline"))),
                     "candidate": fmt.fmt_error(_number(o.get("candidate"))),
                     "limit": fmt.fmt_error(_number(o.get("limit"))), "reason": str(o.get("reason") or ""),
                     "css": "pass" if o.get("passed") else "fail"}
                    for o in gate.get("outputs") or [] if isinstance(o, dict)],
        "first": _tensor_row(first) if isinstance(first, dict) else None,
        "grew_count": f"{len(grew):,} of {len(tensors):,}",
        "rows": [_tensor_row(t) for t in (grew or tensors)[:TABLE_ROWS]],
        "rows_are_growth": bool(grew),
        "appeared": _listed(gate.get("appeared")),
        "appeared_count": f"{len(gate.get('appeared') or []):,}",
        "vanished": _listed(gate.get("vanished")),
        "vanished_count": f"{len(gate.get('vanished') or []):,}",
        "chart_svg": Markup(gate_chart_svg(tensors, first if isinstance(first, dict) else None)),
    }


def _listed(names: Any) -> list[str]:
    """Names on one side only, the first LISTED of them and how many more."""
    names = [str(n) for n in names or []]
    return names[:LISTED] + ([f"and {len(names) - LISTED:,} more"] if len(names) > LISTED else [])


def gate_chart_svg(tensors: list[dict[str, Any]], first: dict[str, Any] | None) -> str:
    """Baseline and candidate gate metric (as badness: 0 is a perfect match) against topological
    index, log scale; tensors that regressed marked, the start of the new error as a line."""
    points = [(int(t["index"]), _side(t, "baseline"), _side(t, "candidate"),
               bool(t.get("regressed") or t.get("new_nonfinite")))
              for t in tensors if isinstance(t.get("index"), int) and t["index"] >= 0]
    finite = [v for p in points for v in p[1:3] if v is not None and math.isfinite(v) and v > 0]
    if not points or not finite:
        return ""
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    floor, ceiling = min(finite) / 10, max(finite) * 10
    placed = [(i, _place(b, floor, ceiling), _place(c, floor, ceiling), bad) for i, b, c, bad in sorted(points)]
    with rc_context({"svg.fonttype": "none", "svg.hashsalt": "trtdiff", "font.size": 9, "path.simplify": False}):
        fig = Figure(figsize=(12.0, 3.8), layout="constrained")
        ax = fig.add_subplot()
        ax.set_yscale("log")
        xs = [p[0] for p in placed]
        ax.plot(xs, [p[1] for p in placed], color=COLOURS["baseline"], linewidth=1.1, label="baseline")
        ax.plot(xs, [p[2] for p in placed], color=COLOURS["candidate"], linewidth=1.1, label="candidate")
        worse = [(p[0], p[2]) for p in placed if p[3]]
        if worse:
            ax.plot(*zip(*worse), linestyle="none", marker="o", markersize=3.5, color=COLOURS["regressed"],
                    label="grew beyond the margin")
        if first is not None and isinstance(first.get("index"), int):
            ax.axvline(first["index"], color=COLOURS["start"], linestyle=":", linewidth=1.2)
            ax.annotate(f"new error starts: {short(str(first.get('node') or first.get('name')))}",
                        (first["index"], 1.0), xycoords=("data", "axes fraction"), xytext=(6, -14),
                        textcoords="offset points", va="top", fontsize=8, parse_math=False)
        ax.set_ylim(floor, ceiling * 1.5)
        ax.set_xlabel("topological index of the producing node")
        ax.set_ylabel("gate metric (error; 1 − cosine; noise power)")
        ax.grid(True, which="major", alpha=0.3)
        fig.legend(loc="outside upper center", fontsize=8, ncol=3, frameon=False)
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    return inline_svg(buffer.getvalue()).replace('aria-label="per-layer error chart"',
                                                 'aria-label="baseline and candidate per-layer error chart"')


def _side(tensor: dict[str, Any], side: str) -> float | None:
    """One side's badness; infinite where its value is NaN because it holds NaN/Inf disagreements
    (drawn at the top, as the main chart draws non-finite errors)."""
    value = _badness(str(tensor.get("metric")), tensor.get(side))
    if value is not None and math.isnan(value) and (_number(tensor.get(f"nonfinite_{side}")) or 0) > 0:
        return math.inf
    return value


def _place(value: float | None, floor: float, ceiling: float) -> float:
    """Zero on the floor, non-finite on the ceiling (a log axis has room for neither)."""
    if value is None or math.isnan(value):
        return math.nan
    return ceiling if math.isinf(value) else max(value, floor)
