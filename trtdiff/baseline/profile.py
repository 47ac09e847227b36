"""A per-tensor error profile: what the regression gate compares. It comes from a `Comparison` (a
run, a saved `--json` result) or from a baseline's `baseline.json`, and holds every tensor's
aggregated metrics in topological order, the graph outputs and the tolerances they were judged by.

The profile's JSON form is one tensor per line (sorted keys), so that two baselines diff line by
line and a 1,000-tensor profile stays well under a megabyte.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from typing import Any

from trtdiff.result import Comparison, ErrorMetrics, TensorResult, Tolerances

# The TensorResult fields a profile keeps (attribution's local error, hints and notes stay in the
# result; the gate compares the cumulative error).
ENTRY_FIELDS = ("name", "node", "op_type", "index", "shape", "dtype", "status", "target_dtype",
                "is_output", "passed", "atol", "rtol", "worst_sample")
METRIC_FIELDS = tuple(f.name for f in dataclasses.fields(ErrorMetrics))
REQUIRED_METRIC_FIELDS = tuple(f.name for f in dataclasses.fields(ErrorMetrics)
                               if f.default is dataclasses.MISSING)


@dataclass(frozen=True)
class Profile:
    """Every tensor of one comparison, in topological order, with the outputs and tolerances."""

    tensors: tuple[TensorResult, ...]
    outputs: tuple[str, ...]
    tolerances: Tolerances
    source: str = ""  # where it came from, for messages: a result file, a baseline folder

    def by_name(self) -> dict[str, TensorResult]:
        return {t.name: t for t in self.tensors}


def profile_from_comparison(comparison: Comparison, source: str = "") -> Profile:
    """The profile of a comparison: its tensors without attribution, as the gate reads them."""
    tensors = tuple(dataclasses.replace(t, local=None, amplification=None, hints=(), note="")
                    for t in comparison.tensors)
    return Profile(tensors, comparison.outputs, comparison.settings.tolerances, source or comparison.model)


def tensor_to_line(tensor: TensorResult) -> str:
    """One tensor as one JSON line (sorted keys; metrics flat, as in `--json`; inf/nan as strings)."""
    data: dict[str, Any] = {name: getattr(tensor, name) for name in ENTRY_FIELDS}
    if data["shape"] is not None:
        data["shape"] = list(data["shape"])
    metrics = tensor.metrics
    for name in METRIC_FIELDS:
        value = getattr(metrics, name) if metrics is not None else None
        data[name] = list(value) if isinstance(value, tuple) else value
    if tensor.sample_verdicts is not None:  # outputs: how the samples fared, per check
        data["sample_verdicts"] = dataclasses.asdict(tensor.sample_verdicts)
    return json.dumps(encode_floats(data), sort_keys=True, allow_nan=False, separators=(", ", ": "))


def encode_floats(value: Any) -> Any:
    """`encode_float` through dicts, lists and tuples (as lists)."""
    if isinstance(value, dict):
        return {str(k): encode_floats(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode_floats(v) for v in value]
    return encode_float(value)


def encode_float(value: Any) -> Any:
    """Non-finite floats as the strings "inf", "-inf", "nan" (standard JSON, as `--json` writes)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value
