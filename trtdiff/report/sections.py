"""View models for the offender sections (ranking, graph neighbourhood), the error histograms of
the worst tensors, and the bisect results."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from trtdiff import formatting as fmt
from trtdiff.measure.divergence import nonfinite_disagreements
from trtdiff.report.tables import status_css
from trtdiff.result import HISTOGRAM_DECADES, HISTOGRAM_LABELS, Comparison, GraphNode, TensorResult
from trtdiff.summary import OFFENDER_FLOOR_TEXT, named_offenders, worst_key

NEIGHBOURHOOD_OFFENDERS = 10
MAX_CONSUMERS = 8
HISTOGRAM_TENSORS = 6


def offender_rows(comparison: Comparison, ids: dict[str, str]) -> list[dict[str, Any]]:
    """The named offenders (summary.named_offenders: a score near the top one) by rank, with the
    local error of their tensor and its cause hints."""
    by_name = {t.name: t for t in comparison.tensors}
    rows = []
    for offender in named_offenders(comparison):
        tensor = by_name.get(offender.tensor)
        hints = [f"{h.kind}: {h.message}" for h in tensor.hints] if tensor is not None else []
        amplification = tensor.amplification if tensor is not None else None
        local = tensor.local.max_abs if tensor is not None and tensor.local is not None else None
        rows.append({
            "rank": str(offender.rank), "node": offender.node, "tensor": offender.tensor,
            "anchor": ids.get(offender.tensor, ""), "op_type": offender.op_type,
            "index": str(offender.index), "score": fmt.fmt_error(offender.score),
            "local": fmt.fmt_error(local), "amplification": fmt.fmt_ratio(amplification),
            "hints": hints or list(offender.hints),
        })
    return rows


def offenders_left_out(comparison: Comparison, named: int) -> str:
    """What the offender table leaves out, and by which rule."""
    rest = len(comparison.offenders) - named
    if not comparison.offenders:
        return ""
    return (f"Named: nodes with a {OFFENDER_FLOOR_TEXT}; {rest:,} other node{'s' if rest != 1 else ''} "
            "with a smaller or zero score (plain rounding, or error passed on) are not called offenders."
            if rest else f"Named: nodes with a {OFFENDER_FLOOR_TEXT}.")


def _tensor_error(tensor: TensorResult | None) -> tuple[str, str]:
    """(shown error, css class) for a tensor next to a node in a neighbourhood."""
    if tensor is None or tensor.metrics is None:
        return fmt.MISSING, "skip"
    bad = nonfinite_disagreements(tensor.metrics)
    shown = fmt.fmt_error(tensor.metrics.max_abs) + (f" + {bad:,} NaN/Inf" if bad else "")
    return shown, status_css(tensor)


def _edge(name: str, by_name: dict[str, TensorResult], ids: dict[str, str]) -> dict[str, Any]:
    error, css = _tensor_error(by_name.get(name))
    return {"tensor": name, "anchor": ids.get(name, ""), "error": error, "css": css}


def _neighbourhood(node: GraphNode, producer: dict[str, GraphNode],
                   consumers: dict[str, list[GraphNode]], by_name: dict[str, TensorResult],
                   ids: dict[str, str]) -> dict[str, Any]:
    inputs = []
    for name in node.inputs:
        if not name:
            continue
        source = producer.get(name)
        incoming = _edge(name, by_name, ids)
        incoming["from"] = f"{source.name} ({source.op_type})" if source else (
            "graph input" if name in by_name else "weight or constant")
        inputs.append(incoming)
    outputs = []
    for name in node.outputs:
        outgoing = _edge(name, by_name, ids)
        users = consumers.get(name, [])
        outgoing["to"] = [f"{u.name} ({u.op_type})" for u in users[:MAX_CONSUMERS]]
        outgoing["more"] = (f"and {len(users) - MAX_CONSUMERS} more" if len(users) > MAX_CONSUMERS
                            else "")
        outputs.append(outgoing)
    return {"inputs": inputs, "outputs": outputs}


def neighbourhoods(comparison: Comparison, ids: dict[str, str],
                   offenders: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """For each of the top offenders: its producers (with the error it received) and its
    consumers (with the error it passes on). Empty graph: the offender is listed alone."""
    producer = {out: node for node in comparison.graph for out in node.outputs}
    consumers: dict[str, list[GraphNode]] = defaultdict(list)
    for node in comparison.graph:
        for name in node.inputs:
            consumers[name].append(node)
    nodes = {node.name: node for node in comparison.graph}
    by_name = {t.name: t for t in comparison.tensors}
    result = []
    for row in offenders[:NEIGHBOURHOOD_OFFENDERS]:
        found = nodes.get(row["node"])
        hood = (_neighbourhood(found, producer, consumers, by_name, ids) if found is not None
                else None)
        result.append({**row, "hood": hood, "tensor_error": _tensor_error(by_name.get(row["tensor"]))[0]})
    return result


def _bin_edges() -> list[float]:
    """Upper edge of each histogram bin (0, decades, then >1e5 and non-finite as inf)."""
    return [0.0] + [10.0 ** d for d in HISTOGRAM_DECADES] + [math.inf, math.inf]


def decade_bars(histogram: tuple[int, ...], atol: float) -> list[dict[str, str]]:
    labels = list(HISTOGRAM_LABELS) if len(histogram) == len(HISTOGRAM_LABELS) else [
        f"bin {i}" for i in range(len(histogram))]
    edges = _bin_edges() if len(histogram) == len(HISTOGRAM_LABELS) else [math.inf] * len(histogram)
    total = sum(histogram) or 1
    tallest = max(histogram) or 1
    bars = []
    for label, count, upper in zip(labels, histogram, edges):
        share = fmt.fmt_percent(100.0 * count / total)
        bars.append({
            "label": label, "count": fmt.fmt_count(count), "share": share,
            "height": fmt.fmt_percent(100.0 * count / tallest),
            "css": "zero" if count == 0 else ("over" if upper > atol else ""),
        })
    return bars


def all_nonfinite(tensor: TensorResult) -> bool:
    """Every error of the tensor is a NaN/Inf disagreement: its histogram would be one bar."""
    m = tensor.metrics
    return m is not None and bool(m.histogram) and nonfinite_disagreements(m) == sum(m.histogram) > 0


def histograms(comparison: Comparison, ids: dict[str, str]) -> dict[str, Any]:
    """Absolute-error histograms of the worst compared tensors (largest max_abs first), leaving out
    those whose every error is non-finite (named, since they are among the worst)."""
    candidates = [t for t in comparison.compared if t.metrics is not None and t.metrics.histogram]
    ranked = sorted(candidates, key=worst_key, reverse=True)
    left_out = [t for t in ranked if all_nonfinite(t)]
    shown = [t for t in ranked if not all_nonfinite(t)][:HISTOGRAM_TENSORS]
    return {
        "shown": [{
            "tensor": t.name, "anchor": ids.get(t.name, ""), "op_type": t.op_type,
            "max_abs": fmt.fmt_error(t.metrics.max_abs),  # type: ignore[union-attr]
            "atol": fmt.fmt_error(t.atol),
            "bars": decade_bars(t.metrics.histogram, t.atol),  # type: ignore[union-attr]
        } for t in shown],
        "left_out": [{"tensor": t.name, "anchor": ids.get(t.name, "")} for t in left_out],
        "left_out_count": f"{len(left_out):,}",
    }


def _fp32_node(item: Any) -> dict[str, str]:
    if not isinstance(item, dict):
        return {"node": str(item), "op_type": fmt.MISSING, "source": fmt.MISSING, "reason": ""}
    return {"node": str(item.get("node", fmt.MISSING)), "op_type": str(item.get("op_type") or fmt.MISSING),
            "source": str(item.get("source") or "search"), "reason": str(item.get("reason") or "")}


def _as_float(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def bisect_view(bisect: dict[str, Any] | None) -> dict[str, Any] | None:
    """Bisect results: verdict, the FP32 set, output errors before and after, and exports."""
    if bisect is None:
        return None
    before = bisect.get("outputs_before") or {}
    after = bisect.get("outputs_after") or {}
    outputs = [{"name": name, "before": fmt.fmt_error(_as_float(before.get(name))),
                "after": fmt.fmt_error(_as_float(after.get(name)))}
               for name in dict.fromkeys([*before, *after])]
    passed = bisect.get("passed")
    passed = passed if isinstance(passed, bool) else None
    evaluations = bisect.get("evaluations")
    fp32_nodes = [_fp32_node(item) for item in bisect.get("fp32_nodes") or []]
    return {
        "label": {True: "passes", False: "does not pass", None: "unknown"}[passed],
        "css": {True: "pass", False: "fail", None: "skip"}[passed],
        "evaluations": fmt.MISSING if evaluations is None else str(evaluations),
        "fp32_nodes": fp32_nodes,
        "fp32_count": f"{len(fp32_nodes):,} node" + ("" if len(fp32_nodes) == 1 else "s"),
        "outputs": outputs,
        "exports": [{"name": str(name), "text": str(text), "id": f"export-{i}"}
                    for i, (name, text) in enumerate((bisect.get("exports") or {}).items())],
    }
