"""Numbers and phrases the gate's outputs share (terminal, JUnit, markdown), so that each says a
regression the same way."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Protocol


class HasNonfinite(Protocol):
    nonfinite_baseline: int
    nonfinite_candidate: int


def fmt(value: float | None) -> str:
    """A metric value: 4 significant digits, inf/nan spelled out, '-' for nothing."""
    if value is None:
        return "-"
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.4g}"


def ratio_words(ratio: float) -> str:
    """How many times worse: '2.31x', 'from 0' when it grew from exactly zero."""
    if math.isnan(ratio):
        return "n/a"
    if math.isinf(ratio):
        return "from 0"
    return f"{ratio:.2f}x"


def nonfinite_words(change: HasNonfinite) -> str:
    """NaN/Inf disagreements with the reference, 'a -> b' when they grew, else ''."""
    if change.nonfinite_candidate > change.nonfinite_baseline:
        return f"{change.nonfinite_baseline} -> {change.nonfinite_candidate}"
    return ""


def percent(share: float) -> str:
    return f"{share * 100:.4g}%"


VERSION_FACTS = ("trtdiff", "python", "numpy", "onnx", "onnxruntime", "onnxruntime-gpu", "onnxruntime providers",
                 "tensorrt", "polygraphy")


def environment_facts(old: Mapping[str, str], new: Mapping[str, str]) -> dict[str, str]:
    """Versions and providers of both sides, one entry each: 'a' when equal, 'a -> b' when they
    differ (what changed between the baseline and the candidate is often the point)."""
    keys = [k for k in VERSION_FACTS if k in old or k in new]
    keys += sorted(k for k in {*old, *new} if k.startswith("target ") and k not in keys)
    facts = {}
    for key in keys:
        before, after = old.get(key, "-"), new.get(key, "-")
        if before == after == "not installed":
            continue
        facts[key] = after if before == after else f"{before} -> {after}"
    return facts
