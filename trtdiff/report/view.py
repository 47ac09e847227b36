"""The view model: a `Comparison` turned into plain template context (strings, lists, dicts).

Everything the page shows is chosen, ordered and formatted here; the template only places it.
Model strings (node, tensor and op names) stay raw text: the template escapes them.
"""

from __future__ import annotations

import json
from typing import Any

from markupsafe import Markup

from trtdiff import __version__
from trtdiff.report import formatting as fmt
from trtdiff.report.plots import chart_data_from_comparison, error_chart_svg
from trtdiff.report.sections import bisect_view, histograms, neighbourhoods, offender_rows, worst_key
from trtdiff.report.tables import anchors, engine_layer_table, status_css, status_text, tensor_table
from trtdiff.result import Comparison
from trtdiff.verdict_checks import nothing_compared

VERSION_KEYS = ("trtdiff", "onnx", "onnxruntime", "tensorrt", "cuda", "providers", "cpu", "gpu")
SUMMARY_OFFENDERS = 5


def view_from_comparison(comparison: Comparison, *, command: str | None = None) -> dict[str, Any]:
    """All the context `report.html.j2` needs, built from the comparison alone."""
    ids = anchors(comparison)
    offenders = offender_rows(comparison, ids)
    model = comparison.model or "(unnamed model)"
    return {
        "title": f"trtdiff: {model}",
        "model": model,
        "verdict": verdict(comparison),
        "first_divergence": first_divergence(comparison, ids),
        "no_divergence": ("No tensor is outside tolerance." if comparison.compared
                          else "Not recorded: no tensors were compared."),
        "outputs": output_rows(comparison, ids),
        "top_offenders": offenders[:SUMMARY_OFFENDERS],
        "no_offenders": _no_offenders(comparison),
        "warnings": list(comparison.warnings),
        "causes": [chain.describe() for chain in comparison.causes],
        "next_steps": next_steps(comparison),
        "unmarked": [{"node": u.node, "op_type": u.op_type, "count": fmt.fmt_count(u.count),
                      "reason": u.reason} for u in comparison.unmarked],
        "chart_svg": Markup(error_chart_svg(chart_data_from_comparison(comparison))),
        "table": tensor_table(comparison, ids),
        "neighbourhoods": neighbourhoods(comparison, ids, offenders),
        "histograms": histograms(comparison, ids),
        "bisect": bisect_view(comparison.bisect),
        "engine_layers": engine_layer_table(comparison.engine_layers),
        "environment": environment_view(comparison, command),
        "generator": f"trtdiff {__version__}",
    }


def next_steps(comparison: Comparison) -> list[dict[str, str]]:
    """The commands to try next (trtdiff.next_step): after a bisect, the one that applies its plan."""
    bisect_steps = (comparison.bisect or {}).get("next_steps") if isinstance(comparison.bisect, dict) else None
    steps = bisect_steps if comparison.bisect is not None else [
        {"command": s.command, "why": s.why} for s in comparison.next_steps]
    return [{"command": str(s.get("command", "")), "why": str(s.get("why", "")), "id": f"next-{i}"}
            for i, s in enumerate(steps or []) if isinstance(s, dict)]


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
    by_name = {t.name: t for t in comparison.tensors}
    outputs = [by_name[n] for n in comparison.outputs if n in by_name]
    bad_outputs = sum(1 for t in outputs if t.passed is False or t.status != "compared")
    compared = [t for t in comparison.compared if t.passed is not None]
    failing = sum(1 for t in compared if t.passed is False)
    parts = []
    if outputs:
        parts.append(f"{bad_outputs:,} of {len(outputs):,} outputs outside tolerance" if bad_outputs
                     else f"all {len(outputs):,} outputs within tolerance")
    if comparison.nonfinite_reference:
        parts.append("the FP32 reference of " + ", ".join(comparison.nonfinite_reference) + " holds NaN/Inf"
                     + (" (accepted)" if comparison.passed else ""))
    if comparison.tensors:
        parts.append(f"{failing:,} of {len(compared):,} compared tensors outside tolerance")
        parts.append(f"{len(comparison.tensors) - len(comparison.compared):,} could not be compared")
    return {
        "label": ("PASS (nothing compared)" if nothing_compared(outputs) else "PASS") if comparison.passed else "FAIL",
        "css": "pass" if comparison.passed else "fail",
        "detail": "; ".join(parts) or "no tensors were compared",
        "reference": comparison.settings.reference or fmt.MISSING,
        "target": comparison.settings.target or fmt.MISSING,
    }


def first_divergence(comparison: Comparison, ids: dict[str, str]) -> dict[str, str] | None:
    name = comparison.first_divergence
    if not name:
        return None
    try:
        tensor = comparison.tensor(name)
    except KeyError:
        return {"tensor": name, "anchor": "", "node": "", "op_type": "", "index": "",
                "max_abs": fmt.MISSING, "atol": fmt.MISSING}
    return {
        "tensor": name, "anchor": ids.get(name, ""), "node": tensor.node, "op_type": tensor.op_type,
        "index": str(tensor.index), "atol": fmt.fmt_error(tensor.atol),
        "max_abs": fmt.fmt_error(tensor.metrics.max_abs if tensor.metrics else None),
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
                        f"check {tol.check}, relative-error floor {fmt.fmt_error(tol.rel_floor)}")),
    ]
    rows += [(f"atol for {name}", fmt.fmt_error(v)) for name, v in tol.per_tensor_atol.items()]
    rows += [(f"rtol for {name}", fmt.fmt_error(v)) for name, v in tol.per_tensor_rtol.items()]
    rows.append(("seed", fmt.MISSING if settings.seed is None else str(settings.seed)))
    plan = settings.precision_plan
    return {
        "versions": versions,
        "settings": rows,
        "inputs": sorted(settings.inputs.items()),
        "precision_plan": json.dumps(plan, indent=2, sort_keys=True, default=str) if plan else "",
        "command": settings.command,
        "report_command": command if command and command != settings.command else "",
        "timings": [(k.removesuffix("_s"), fmt.fmt_seconds(v)) for k, v in comparison.timings.items()],
    }
