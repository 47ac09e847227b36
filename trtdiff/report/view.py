"""The view model: a `Comparison` turned into plain template context (strings, lists, dicts).

Everything the page shows is chosen, ordered and formatted here; the template only places it.
Model strings (node, tensor and op names) stay raw text: the template escapes them.
"""

from __future__ import annotations

import json
from typing import Any

from jinja2.utils import htmlsafe_json_dumps
from markupsafe import Markup

from trtdiff.version import __version__
from trtdiff import formatting as fmt
from trtdiff.report.gate import gate_view
from trtdiff.report.plots import ChartPoint, chart_data_from_comparison, error_chart
from trtdiff.report.sections import bisect_view, histograms, neighbourhoods, offender_rows, offenders_left_out
from trtdiff.report.samples import samples_view
from trtdiff.report.tables import anchors, engine_layer_table, status_css, status_text, tensor_table
from trtdiff.result import Comparison, TensorResult
from trtdiff.summary import counts, divergence_summary, next_steps, worst_key
from trtdiff.verdict_checks import nothing_compared

VERSION_KEYS = ("trtdiff", "onnx", "onnxruntime", "tensorrt", "tensorrt-rtx", "cuda", "providers", "cpu", "gpu")
SUMMARY_OFFENDERS = 5


def view_from_comparison(comparison: Comparison, *, command: str | None = None) -> dict[str, Any]:
    """All the context `report.html.j2` needs, built from the comparison alone. A later section
    (e.g. a baseline's) adds its own key here and its own block in the template."""
    ids = anchors(comparison)
    offenders = offender_rows(comparison, ids)
    model = comparison.model or "(unnamed model)"
    chart = error_chart(chart_data_from_comparison(comparison))
    return {
        "title": f"trtdiff: {model}",
        "model": model,
        "verdict": verdict(comparison),
        "divergence": divergence_view(comparison, ids),
        "no_divergence": ("No tensor is outside tolerance or below the divergence SNR." if comparison.compared
                          else "Not recorded: no tensors were compared."),
        "outputs": output_rows(comparison, ids),
        "top_offenders": offenders[:SUMMARY_OFFENDERS],
        "offender_rule": offenders_left_out(comparison, len(offenders)),
        "no_offenders": _no_offenders(comparison),
        "warnings": list(comparison.warnings),
        "causes": [chain.describe() for chain in comparison.causes],
        "unmarked": [{"node": u.node, "op_type": u.op_type, "count": fmt.fmt_count(u.count),
                      "reason": u.reason} for u in comparison.unmarked],
        "chart_svg": Markup(chart.svg),
        "chart_points": chart_points_json(chart.points, ids) if chart.points else "",
        "table": tensor_table(comparison, ids),
        "neighbourhoods": neighbourhoods(comparison, ids, offenders),
        "histograms": histograms(comparison, ids),
        "samples": samples_view(comparison, ids),
        "bisect": bisect_view(comparison.bisect),
        "gate": gate_view(comparison.gate),
        "engine_layers": engine_layer_table(comparison.engine_layers),
        "environment": environment_view(comparison, command),
        "next_steps": [{"command": step.command, "why": step.why, "id": f"next-command-{i}"}
                       for i, step in enumerate(next_steps(comparison))],
        "generator": f"trtdiff {__version__}",
    }


def chart_points_json(points: list[ChartPoint], ids: dict[str, str]) -> Markup:
    """The chart's hover points as JSON safe inside a <script type="application/json"> element
    (`<`, `>`, `&` and quotes escaped as JSON \\u escapes): position, row anchor, and the lines
    of text to show, model names included as plain strings that the script sets as text."""
    return htmlsafe_json_dumps([
        {"x": p.x, "y": p.y, "a": ids.get(p.text.get("tensor", ""), ""),
         "rows": [[k, v] for k, v in p.text.items() if v]}
        for p in points])


def _no_offenders(comparison: Comparison) -> str:
    """Why the offender table is empty: attribution was off or skipped, or found nothing."""
    said = comparison.settings.attribution
    if said.startswith("skipped"):
        return f"No offenders were ranked: attribution {said}."
    if said == "off":
        return "No offenders were ranked: attribution was off (--attribute turns it on)."
    return "No offenders were ranked (no local errors in this result)."


def verdict(comparison: Comparison) -> dict[str, str]:
    """PASS/FAIL with what it rests on: the outputs first, then every compared tensor."""
    c = counts(comparison)
    parts = []
    if c.outputs:
        parts.append(f"{c.failing_outputs:,} of {c.outputs:,} outputs outside tolerance" if c.failing_outputs
                     else f"all {c.outputs:,} outputs within tolerance")
    if comparison.nonfinite_reference:
        parts.append("the FP32 reference of " + ", ".join(comparison.nonfinite_reference) + " holds NaN/Inf"
                     + (" (accepted)" if comparison.passed else ""))
    if comparison.tensors:
        parts.append(f"{c.failing:,} of {c.compared:,} compared tensors outside tolerance")
        parts.append(f"{c.not_compared:,} could not be compared")
    return {
        "label": ("PASS (nothing compared)" if nothing_compared([t for t in comparison.tensors if t.is_output])
                  else "PASS") if comparison.passed else "FAIL",
        "css": "pass" if comparison.passed else "fail",
        "detail": "; ".join(parts) or "no tensors were compared",
        "reference": comparison.settings.reference or fmt.MISSING,
        "target": comparison.settings.target or fmt.MISSING,
    }


def _divergence_row(tensor: TensorResult, ids: dict[str, str], why: str) -> dict[str, str]:
    return {
        "tensor": tensor.name, "anchor": ids.get(tensor.name, ""), "node": tensor.node,
        "op_type": tensor.op_type, "index": str(tensor.index), "why": why,
        "max_abs": fmt.fmt_error(tensor.metrics.max_abs if tensor.metrics else None),
        "snr_db": fmt.fmt_db(tensor.metrics.snr_db if tensor.metrics else None),
        "atol": fmt.fmt_error(tensor.atol),
    }


def divergence_view(comparison: Comparison, ids: dict[str, str]) -> dict[str, Any] | None:
    """The divergence to look at first, why it is named, and the first tolerance failure beside
    it when that is another tensor (summary.divergence_summary decides)."""
    summary = divergence_summary(comparison)
    if summary is None:
        return None
    return {
        "label": "First divergence" if summary.significant else "First tolerance failure",
        "lead": _divergence_row(summary.lead, ids, summary.why),
        "other": (_divergence_row(summary.other, ids, summary.other_why)
                  if summary.other is not None else None),
        "threshold": fmt.fmt_db(comparison.settings.divergence_snr_db),
    }


def output_rows(comparison: Comparison, ids: dict[str, str]) -> list[dict[str, Any]]:
    """The model outputs, worst first; the first row is the worst output."""
    names = list(comparison.outputs) or [t.name for t in comparison.tensors if t.is_output]
    by_name = {t.name: t for t in comparison.tensors}
    found = sorted((by_name[n] for n in names if n in by_name), key=worst_key, reverse=True)
    rows: list[dict[str, Any]] = []
    for tensor in found:
        metrics = tensor.metrics
        rows.append({
            "name": tensor.name, "anchor": ids.get(tensor.name, ""),
            "status": status_text(tensor), "css": status_css(tensor),
            "max_abs": fmt.fmt_error(metrics.max_abs if metrics else None),
            "atol": fmt.fmt_error(tensor.atol),
            "cosine": fmt.fmt_cosine(metrics.cosine if metrics else None),
            "snr_db": fmt.fmt_db(metrics.snr_db if metrics else None),
        })
    missing = [n for n in names if n not in by_name]
    rows.extend({"name": n, "anchor": "", "status": "not reported", "css": "skip",
                 "max_abs": fmt.MISSING, "atol": fmt.MISSING, "cosine": fmt.MISSING,
                 "snr_db": fmt.MISSING} for n in missing)
    for position, row in enumerate(rows):
        row["worst"] = position == 0 and len(rows) > 1
    return rows


def environment_view(comparison: Comparison, command: str | None) -> dict[str, Any]:
    """Versions, hardware and run settings, in the order a reader looks for them."""
    env = {str(k): str(v) for k, v in comparison.environment.items()}
    versions = [(k, env.pop(k)) for k in VERSION_KEYS if k in env] + list(env.items())
    settings = comparison.settings
    tol = settings.tolerances
    rows = [
        ("reference", settings.reference or fmt.MISSING),
        ("target", settings.target or fmt.MISSING),
        ("tolerances", (f"atol {fmt.fmt_error(tol.atol)}, rtol {fmt.fmt_error(tol.rtol)}, "
                        f"check {', '.join(tol.checks) or tol.check}, "
                        f"relative-error floor {fmt.fmt_error(tol.rel_floor)}")),
    ]
    if tol.min_agreement < 1:
        rows.append(("min agreement", f"{fmt.fmt_share_exact(tol.min_agreement)} of the samples must pass"))
    rows += [(f"atol for {name}", fmt.fmt_error(v)) for name, v in tol.per_tensor_atol.items()]
    rows += [(f"rtol for {name}", fmt.fmt_error(v)) for name, v in tol.per_tensor_rtol.items()]
    rows.append(("seed", fmt.MISSING if settings.seed is None else str(settings.seed)))
    rows.append(("divergence SNR", f"{fmt.fmt_db(settings.divergence_snr_db)} dB"))
    commands = [("command", settings.command or "not recorded")]
    if command and command != settings.command:
        commands.append(("report written by", command))
    plan = settings.precision_plan
    return {
        "versions": versions,
        "commands": commands,
        "settings": rows,
        "inputs": sorted(settings.inputs.items()),
        "precision_plan": json.dumps(plan, indent=2, sort_keys=True, default=str) if plan else "",
        "timings": [(k.removesuffix("_s"), fmt.fmt_seconds(v)) for k, v in comparison.timings.items()],
    }
