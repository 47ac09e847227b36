"""A Comparison as a pandas DataFrame (`Comparison.to_dataframe()`), one row per tensor.

Metrics are float64 columns with NaN and inf kept as such (a tensor that was not compared has NaN);
counts are pandas' nullable Int64 (missing where not compared); the verdict is a nullable boolean.
Takes the Comparison by its fields, so this module needs nothing else of trtdiff's.
"""

from __future__ import annotations

import dataclasses
from typing import Any

_IDENTITY = ("name", "node", "op_type", "index", "status", "is_output", "dtype", "target_dtype")
_COUNTS = ("size", "mismatches", "nan_ref", "nan_target", "inf_ref", "inf_target")


def comparison_frame(comparison: Any) -> Any:
    import numpy as np
    import pandas as pd

    metric_names = _metric_names(comparison)
    rows = [_row(tensor, metric_names) for tensor in comparison.tensors]
    columns = [*_IDENTITY, "shape", "passed", "atol", "rtol", *metric_names, "worst_sample",
               "samples_failed", "local_max_abs", "amplification"]
    frame = pd.DataFrame(rows, columns=columns)
    for name in columns:
        if name in _COUNTS or name in ("index", "worst_sample", "samples_failed"):
            frame[name] = frame[name].astype("Int64")
        elif name == "passed" or name == "is_output":
            frame[name] = frame[name].astype("boolean")
        elif name not in _IDENTITY and name != "shape":
            frame[name] = frame[name].astype(np.float64)
    return frame


def _metric_names(comparison: Any) -> list[str]:
    for tensor in comparison.tensors:
        if tensor.metrics is not None:
            return [f.name for f in dataclasses.fields(tensor.metrics) if f.name != "histogram"]
    return ["max_abs", "mean_abs", "median_abs", "p99_abs", "max_rel", "mean_rel", "cosine", "snr_db",
            *_COUNTS, "ref_max_abs"]


def _row(tensor: Any, metric_names: list[str]) -> dict[str, Any]:
    metrics = tensor.metrics
    row: dict[str, Any] = {name: getattr(tensor, name) for name in _IDENTITY}
    row["shape"] = "x".join(str(d) for d in tensor.shape) if tensor.shape is not None else None
    row["passed"] = tensor.passed
    row["atol"], row["rtol"] = (tensor.atol, tensor.rtol) if metrics is not None else (None, None)
    for name in metric_names:
        row[name] = getattr(metrics, name) if metrics is not None else None
    row["worst_sample"] = tensor.worst_sample
    verdicts = tensor.sample_verdicts
    row["samples_failed"] = verdicts.failed if verdicts is not None else None
    row["local_max_abs"] = tensor.local.max_abs if tensor.local is not None else None
    row["amplification"] = tensor.amplification
    return row
