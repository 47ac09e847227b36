"""Checks: what decides whether one sample of a tensor passes.

    elementwise          every element within atol + rtol * |ref| (numpy.allclose's rule)
    max|mean|median|p99  that statistic of |t - r| within atol, or of the relative error within rtol
    cosine:T             cosine similarity of the sample's tensor >= T
    snr:DB               10 log10(sum r^2 / sum e^2) >= DB
    topk:K               along --topk-axis (default the last), the target's K largest indices are the
                         reference's (as sets; ties broken by the lower index) at every position

`NAME:CHECK` applies to tensor NAME only; a tensor with checks of its own takes those, the others take
the unprefixed ones (default elementwise). `topk` is a task metric of outputs: unprefixed, it applies
to graph outputs and --outputs tensors, and intermediate tensors keep the other checks (or
elementwise). Under every check a NaN/Inf disagreement fails the sample.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from trtdiff.errors import UsageError
from trtdiff.formatting import fmt_exact

STATISTICS = ("max", "mean", "median", "p99")
KINDS = ("elementwise", *STATISTICS, "cosine", "snr", "topk")
_NEEDS_VALUE = {"cosine": "cosine:0.999", "snr": "snr:30", "topk": "topk:1"}
_SYNTAX = re.compile(r"^(?:(?P<tensor>.+):)?(?P<kind>" + "|".join(KINDS) + r")(?::(?P<value>[^:]+))?$")
CHECK_HELP = ("elementwise, max, mean, median, p99, cosine:MIN, snr:DB or topk:K, each optionally "
              "NAME:-prefixed for one tensor")


@dataclass(frozen=True)
class Check:
    kind: str
    threshold: float | None = None  # cosine: least similarity; snr: least dB; topk: K
    tensor: str | None = None  # applies to this tensor only

    @property
    def label(self) -> str:
        """The check without its tensor: "topk:1", "cosine:0.999", "elementwise"."""
        if self.threshold is None:
            return self.kind
        value = int(self.threshold) if self.kind == "topk" else self.threshold
        return f"{self.kind}:{fmt_exact(value)}" if isinstance(value, float) else f"{self.kind}:{value}"

    def __str__(self) -> str:
        return f"{self.tensor}:{self.label}" if self.tensor else self.label


def parse_check(text: str) -> Check:
    """`[NAME:]KIND[:VALUE]`, e.g. `topk:1`, `logits:cosine:0.999`, `p99`."""
    match = _SYNTAX.match(text.strip())
    if not match:
        raise UsageError(f"cannot read --check '{text}'", f"expected {CHECK_HELP}",
                         "for example --check topk:1 or --check logits:cosine:0.999")
    kind, value, tensor = match["kind"], match["value"], match["tensor"]
    if (kind in _NEEDS_VALUE) != (value is not None):
        example = _NEEDS_VALUE.get(kind, kind)
        raise UsageError(f"--check '{text}' {'needs' if kind in _NEEDS_VALUE else 'takes no'} a value",
                         f"{kind} is written {example}", f"for example --check {example}")
    return Check(kind, _threshold(text, kind, value), tensor)


def _threshold(text: str, kind: str, value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError as err:
        raise UsageError(f"cannot read --check '{text}'", f"'{value}' is not a number",
                         f"for example --check {_NEEDS_VALUE[kind]}") from err
    if kind == "topk" and (not number.is_integer() or number < 1):
        raise UsageError(f"--check '{text}' is not usable", "K counts the top entries: a whole number >= 1",
                         "for example --check topk:1")
    if kind == "cosine" and not -1 <= number <= 1:
        raise UsageError(f"--check '{text}' is not usable", "a cosine similarity lies in [-1, 1]",
                         "for example --check cosine:0.999")
    if not math.isfinite(number):
        raise UsageError(f"--check '{text}' is not usable", "the threshold must be finite", "give a finite number")
    return number


def checks_for(checks: Sequence[Check], name: str, gated: bool, default: str = "elementwise") -> tuple[Check, ...]:
    """The checks that decide tensor `name` (`gated`: a graph output or --outputs tensor)."""
    own = tuple(c for c in checks if c.tensor == name)
    if own:
        return own
    shared = tuple(c for c in checks if c.tensor is None) or (Check(default),)
    if not gated:
        shared = tuple(c for c in shared if c.kind != "topk") or (Check("elementwise"),)
    return shared


@dataclass(frozen=True)
class CheckOutcome:
    """One check on one sample: whether it held and its value (topk: `agree` of `positions`)."""

    passed: bool
    value: float
    agree: int = 0
    positions: int = 0


def task_outcome(check: Check, cosine: float, snr_db: float, ref: np.ndarray, target: np.ndarray,
                 axis: int) -> CheckOutcome:
    """cosine, snr or topk on one sample (the non-finite rule is the caller's)."""
    assert check.threshold is not None
    if check.kind == "cosine":
        return CheckOutcome(not math.isnan(cosine) and cosine >= check.threshold, cosine)
    if check.kind == "snr":
        return CheckOutcome(not math.isnan(snr_db) and snr_db >= check.threshold, snr_db)
    agree, positions = topk_agreement(ref, target, int(check.threshold), axis)
    return CheckOutcome(agree == positions, agree / positions if positions else math.nan, agree, positions)


def topk_agreement(ref: np.ndarray, target: np.ndarray, k: int, axis: int) -> tuple[int, int]:
    """(positions where the K largest entries along `axis` are the same indices on both sides,
    positions). Raises a UsageError when the tensor has no such axis or fewer than K entries on it."""
    if ref.ndim == 0 or not -ref.ndim <= axis < ref.ndim:
        raise UsageError(f"--check topk needs an axis {axis} but the tensor has shape {list(ref.shape)}",
                         "top-K agreement compares the largest entries along one axis",
                         "choose the class axis with --topk-axis, or name the tensor: --check NAME:topk:1")
    length = ref.shape[axis]
    if length < k:
        raise UsageError(f"--check topk:{k} on a tensor of {length} entries along axis {axis}",
                         "K must not exceed the axis length", f"use topk:{max(length, 1)} or another --topk-axis")
    rows_ref = np.moveaxis(ref, axis, -1).reshape(-1, length)
    rows_target = np.moveaxis(target, axis, -1).reshape(-1, length)
    if k == 1:
        same = np.argmax(rows_ref, axis=-1) == np.argmax(rows_target, axis=-1)
    else:
        same = np.all(_top_indices(rows_ref, k) == _top_indices(rows_target, k), axis=-1)
    return int(np.count_nonzero(same)), int(same.size)


def _top_indices(rows: np.ndarray, k: int) -> np.ndarray:
    """The K largest entries' indices per row, sorted (a stable sort: ties go to the lower index)."""
    order = np.argsort(-rows.astype(np.float64), axis=-1, kind="stable")[:, :k]
    return np.sort(order, axis=-1)


def _against(value: float, threshold: str, decimals: int) -> str:
    """`value` with at least `decimals` decimals, and as many more as it takes to compare with
    `threshold` as the value itself does (0.9999999174 against 0.99999999, not 1.000000)."""
    bound = float(threshold)
    for places in range(decimals, 18):
        text = f"{value:.{places}f}"
        if (float(text) < bound, float(text) == bound) == (value < bound, value == bound):
            return text
    return repr(value)


def describe_check(check: str, value: float) -> str:
    """A check's task metric over the samples in words (`value` as CheckSummary holds it):
    "top-1 agreement 99.4%", "cosine 0.999120 in the worst sample (>= 0.999)"."""
    kind, _, threshold = check.partition(":")
    if kind == "topk":
        return f"top-{threshold} agreement {value:.1%}" if not math.isnan(value) else f"top-{threshold}: no positions"
    if math.isnan(value):
        return f"{kind}: the worst sample has no element finite on both sides"
    if kind == "cosine":
        return f"cosine {_against(value, threshold, 6)} in the worst sample (>= {threshold})"
    if kind == "snr":
        return f"SNR {_against(value, threshold, 1)} dB in the worst sample (>= {threshold} dB)"
    if kind == "elementwise":
        return f"elementwise: at most {value:.0f} mismatches in one sample"
    return f"{kind} error {value:.3g} in the worst sample"
