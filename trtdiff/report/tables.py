"""Rows for the report's tables: every tensor with its metrics, and TensorRT's engine layers.

A cell is `{"text": shown text, "v": numeric sort key or None}`; the page's script sorts on `v`
when a column is numeric and on the text otherwise. Row ids are positions (`t-12`), never model
strings, so that a hostile tensor name cannot end up inside an attribute that means something.
"""

from __future__ import annotations

from typing import Any

from trtdiff import formatting as fmt
from trtdiff.result import Comparison, ErrorMetrics, TensorResult
from trtdiff.summary import elementwise_decided

# key, header, numeric, header tooltip
TENSOR_COLUMNS = (
    ("index", "#", True, "topological index of the producing node"),
    ("tensor", "tensor", False, "tensor name"),
    ("node", "node", False, "producing node"),
    ("op", "op", False, "op type of the producing node"),
    ("shape", "shape / dtype", False, "shape, reference dtype → target dtype"),
    ("status", "status", False, "pass, FAIL, or why it was not compared"),
    ("max_abs", "max abs", True, "cumulative error: max |target − reference| at this tensor, over the "
                                 "elements finite on both sides"),
    ("p99_abs", "p99 abs", True, "99th percentile of the absolute error"),
    ("max_rel", "max rel", True, "max relative error"),
    ("cosine", "cosine", True, "cosine similarity with the reference"),
    ("snr_db", "SNR dB", True, "signal-to-noise ratio of the target against the reference"),
    ("local", "local max abs", True, "local error: what this node introduces by itself"),
    ("amplification", "amplif.", True, "cumulative error over the error the node received"),
    ("mismatches", "outside tol.", True, "elements outside atol/rtol (share of the tensor); a dash where a "
                                          "statistic or task check (max, cosine, topk...) decides the tensor"),
    ("hints", "cause hints", False, "why the node introduces error"),
)
# Shown once the reader ticks them (the table must fit 1,400 px without scrolling sideways)
HIDDEN_COLUMNS = ("node", "p99_abs", "max_rel", "cosine")
ENGINE_COLUMNS = ("name", "type", "precision", "tactic", "onnx_nodes")
# Rows laid out at first; the rest wait behind "show more" (a 2,000-row table costs the browser
# about a second of layout on a small machine; hidden rows cost almost nothing).
PAGE_ROWS = 250


def anchors(comparison: Comparison) -> dict[str, str]:
    """Tensor name -> the id of its table row."""
    ids: dict[str, str] = {}
    for position, tensor in enumerate(comparison.tensors):
        ids.setdefault(tensor.name, f"t-{position}")
    return ids


def _num(text: str, value: float | None) -> dict[str, str | None]:
    return {"text": text, "v": fmt.sort_key(value)}


def _text(text: str) -> dict[str, str | None]:
    return {"text": text, "v": None}


def _metric_cells(metrics: ErrorMetrics | None) -> list[dict[str, str | None]]:
    if metrics is None:
        return [_num(fmt.MISSING, None) for _ in range(5)]
    return [
        _num(fmt.fmt_error(metrics.max_abs), metrics.max_abs),
        _num(fmt.fmt_error(metrics.p99_abs), metrics.p99_abs),
        _num(fmt.fmt_error(metrics.max_rel), metrics.max_rel),
        _num(fmt.fmt_cosine(metrics.cosine), metrics.cosine),
        _num(fmt.fmt_db(metrics.snr_db), metrics.snr_db),
    ]


SHORT_DTYPES = {"float64": "fp64", "float32": "fp32", "float16": "fp16", "bfloat16": "bf16"}


def _dtype(tensor: TensorResult) -> str:
    """'fp32→fp16' when the target stores the tensor in another type."""
    ref = SHORT_DTYPES.get(tensor.dtype, tensor.dtype)
    if tensor.target_dtype and tensor.target_dtype != tensor.dtype:
        return f"{ref}→{SHORT_DTYPES.get(tensor.target_dtype, tensor.target_dtype)}"
    return ref


def status_text(tensor: TensorResult) -> str:
    """pass / FAIL / not checked, or why the tensor was not compared; NaN and Inf that appear
    on one side are named, since they are the usual reason a tensor fails outright."""
    if tensor.status != "compared":
        return tensor.status.replace("_", " ")
    text = {True: "pass", False: "FAIL", None: "not checked"}[tensor.passed]
    metrics = tensor.metrics
    if metrics is not None:
        extra = [f"{label} {count:,}" for label, count in (
            ("NaN in target", metrics.nan_target - metrics.nan_ref),
            ("Inf in target", metrics.inf_target - metrics.inf_ref)) if count > 0]
        text = "; ".join([text, *extra])
    return text


def is_failing(tensor: TensorResult) -> bool:
    return tensor.passed is False or tensor.status == "shape_mismatch"


def status_css(tensor: TensorResult) -> str:
    """CSS class of a tensor's verdict: fail, pass, or skip (not compared)."""
    if tensor.passed is False:
        return "fail"
    return "pass" if tensor.passed else "skip"


def tensor_row(tensor: TensorResult, row_id: str, elementwise: bool = True) -> dict[str, Any]:
    """One table row; `note` (e.g. why a tensor is unpaired) goes in the status tooltip;
    `elementwise`: an elementwise check decides the tensor (else its mismatch count is left out)."""
    local = tensor.local.max_abs if tensor.local is not None else None
    size = tensor.metrics.size if tensor.metrics is not None else None
    mismatches = tensor.metrics.mismatches if tensor.metrics is not None and elementwise else None
    hints = ", ".join(dict.fromkeys(h.kind for h in tensor.hints))
    cells = [
        _num(str(tensor.index) if tensor.index >= 0 else "input", tensor.index),
        _text(tensor.name),
        _text(tensor.node or fmt.MISSING),
        _text(tensor.op_type or fmt.MISSING),
        _text(f"{fmt.fmt_shape(tensor.shape)} {_dtype(tensor)}"),
        _text(status_text(tensor)),
        *_metric_cells(tensor.metrics),
        _num(fmt.fmt_error(local), local),
        _num(fmt.fmt_ratio(tensor.amplification), tensor.amplification),
        _num(fmt.fmt_count(mismatches, size), mismatches),
        _text(hints),
    ]
    failing = is_failing(tensor)
    return {
        "id": row_id,
        "failing": failing,
        "css": "fail" if failing else status_css(tensor),
        "op": tensor.op_type,
        "note": tensor.note,
        "cells": cells,
    }


def tensor_table(comparison: Comparison, ids: dict[str, str]) -> dict[str, Any]:
    """Every tensor, in the order the comparison lists them (topological)."""
    decided = elementwise_decided(comparison)
    rows = [tensor_row(t, f"t-{position}", t.name in decided) for position, t in enumerate(comparison.tensors)]
    for position, row in enumerate(rows):
        row["hidden"] = position >= PAGE_ROWS
    failing = sum(1 for r in rows if r["failing"])
    shown = min(len(rows), PAGE_ROWS)
    return {
        "columns": [{"key": k, "label": label, "numeric": numeric, "title": title, "shown": k not in HIDDEN_COLUMNS}
                    for k, label, numeric, title in TENSOR_COLUMNS],
        "hidden_classes": " ".join(f"hide-{k}" for k in HIDDEN_COLUMNS),
        "rows": rows,
        "op_types": sorted({t.op_type for t in comparison.tensors if t.op_type}),
        "total": f"{len(rows):,}",
        "failing": f"{failing:,}",
        "page_rows": str(PAGE_ROWS),
        "count_text": (f"{len(rows)} of {len(rows)} shown" if shown == len(rows)
                       else f"{shown} of {len(rows)} matching shown"),
        "more": shown < len(rows),
    }


def _cell_text(value: Any) -> str:
    if value is None or value == "":
        return fmt.MISSING
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value) or fmt.MISSING
    return str(value)


def engine_layer_table(layers: tuple[dict[str, Any], ...]) -> dict[str, Any] | None:
    """TensorRT's layers as built: the fixed columns, then any other facts in one column."""
    if not layers:
        return None
    rows = []
    for layer in layers:
        layer = layer if isinstance(layer, dict) else {"name": layer}
        extra = "; ".join(f"{k}={_cell_text(v)}" for k, v in layer.items() if k not in ENGINE_COLUMNS)
        rows.append([_cell_text(layer.get(k)) for k in ENGINE_COLUMNS] + [extra])
    return {"columns": [*ENGINE_COLUMNS, "other"], "rows": rows, "count": f"{len(rows):,}"}
