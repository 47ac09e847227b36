"""Hints for what a node does to values it received (representation.py decides when they apply).

    domain      the node turns values its inputs lost to the type into NaN/Inf: "log of zeros
                gives -inf", "Sub of infinities gives NaN" (FP32 on the same inputs does too)
    inherited   the node adds no error of its own; its error comes from a lossy producer
    overflow    (its own) the node's input conversion, or a value inside its computation,
                goes past the type's largest value while the reference output stays in range
Each is true to its numbers: counts of the NaN/Inf it makes where the reference is finite, and
the producer whose stored values explain them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from trtdiff.attribution.hints import LIMITS, relative_rms
from trtdiff.attribution.local import LocalResult
from trtdiff.result import CauseHint, ErrorMetrics

OP_WORDS = {"Log": "log", "Div": "division", "Reciprocal": "1/x", "Sqrt": "sqrt", "Pow": "power", "Exp": "exp",
            "Sub": "subtraction", "Add": "addition", "Mul": "multiplication", "MatMul": "MatMul"}
# what a producer's hint says its stored values became: (phrase, in a few words)
STORED = {"underflow": ("flushed to zero", "zeros"), "overflow": ("overflowed to ±inf", "infinities"),
          "nan_origin": ("are NaN", "NaN"), "domain": ("are NaN or ±inf", "non-finite values"),
          "quantization": ("were quantized coarsely", "coarsely quantized values"),
          "cancellation": ("lost their precision by cancellation", "cancelled values")}


def effect_hint(result: LocalResult, op_type: str, local: np.ndarray, ref: np.ndarray,
                producers: Sequence[LocalResult], inputs: Mapping[str, np.ndarray],
                own: float = 0.0) -> CauseHint | None:
    """The hint of a node whose local error is representation only: `domain` when it makes NaN/Inf
    the reference lacks, else `inherited` when `producers` (the lossy ones it is charged to) exist.
    With no such producer, an input whose reference values exceed the type's range (the node's
    own conversion makes them inf) gives an `overflow` hint naming that input. `own`: the node's
    own relative error (its output against FP32 on the same inputs: the rounding of its output),
    stated when not zero, so that the hint agrees with the node's score."""
    node, op = result.node, OP_WORDS.get(op_type, op_type)
    made = _made(local, ref)
    if not producers and made:
        converted = _input_overflow(result, inputs, made)
        if converted is not None:
            return converted
    if producers:
        source = producers[0]
        what, short = _stored(source)
        origin = f"values that {what} in '{source.node}'"
        blame = f", so the error comes from '{source.node}'"
    else:
        origin, short, blame = f"its inputs as it converts them to {result.precision}", "rounded inputs", ""
    if made:
        listed = ", ".join(f"{count} {label}" for label, count in made.items())
        labels = "/".join(made)
        return CauseHint("domain", node,
                         f"'{node}': {op} of {origin} gives {listed} where the reference is finite; FP32 on the same "
                         f"inputs gives the same{blame}", {f"{label}_count": float(n) for label, n in made.items()},
                         f"{op} of {short} gives {labels}")
    if not producers:
        return None
    error = relative_rms(result.metrics)
    adds = (f"adds only rounding of its own (relative error {own:.3g}): FP32 on its inputs as the target stores "
            "them gives the same result within that" if own > 0 else
            "adds no error of its own: FP32 on its inputs as the target stores them gives the same result")
    return CauseHint("inherited", node, f"'{node}' {adds}; its relative error {error:.3g} comes from {origin}",
                     {"local_relative_rms": error, "own_relative_rms": own},
                     f"passes on {short} from '{producers[0].node}'")


def _input_overflow(result: LocalResult, inputs: Mapping[str, np.ndarray], made: Mapping[str, int]) -> CauseHint | None:
    limits = LIMITS.get(result.precision)
    if limits is None:
        return None
    for name, values in inputs.items():
        magnitude = np.abs(values[np.isfinite(values)]) if values.size else values
        beyond = int(np.count_nonzero(magnitude > limits.largest))
        if not beyond:
            continue
        largest = float(magnitude.max())
        listed = ", ".join(f"{count} {label}" for label, count in made.items())
        return CauseHint("overflow", result.node,
                         f"'{result.node}' converts its input '{name}' to {result.precision}, where {beyond} of its "
                         f"reference values exceed ±{limits.largest:g} (largest {largest:.6g}): they become inf, and "
                         f"its output holds {listed} where the reference is finite",
                         {"beyond_count": float(beyond), "type_max": limits.largest, "ref_max_abs": largest,
                          **{f"{label}_count": float(n) for label, n in made.items()}},
                         f"its input '{name}' overflows {result.precision} ({beyond} values beyond ±{limits.largest:g})")
    return None


def inner_overflow_hint(result: LocalResult, own: ErrorMetrics, ref: np.ndarray) -> CauseHint | None:
    """Infs the node's own lowered computation makes while every reference value is in range (the
    overflow hint covers reference values beyond it): a value inside the computation overflowed."""
    limits = LIMITS.get(result.precision)
    new_inf = own.inf_target - own.inf_ref
    m = result.metrics
    if limits is None or new_inf <= 0 or m.ref_max_abs > limits.largest or any(h.kind == "overflow" for h in result.hints):
        return None
    return CauseHint("overflow", result.node,
                     f"'{result.node}' makes {new_inf} inf in {result.precision} although no reference value exceeds "
                     f"±{limits.largest:g} (largest {m.ref_max_abs:.6g}) and FP32 on the same inputs stays finite: "
                     "a value inside its computation overflows", {"inf_count": float(new_inf), "type_max": limits.largest,
                                                                  "ref_max_abs": m.ref_max_abs},
                     f"overflows {result.precision} inside its computation ({new_inf} inf)")


def _stored(producer: LocalResult) -> tuple[str, str]:
    for hint in producer.hints:
        if hint.kind in STORED:
            return STORED[hint.kind]
    m = producer.metrics
    if m.nan_target > m.nan_ref or m.inf_target > m.inf_ref:
        return STORED["domain"]
    return "were rounded", "rounded values"


def _made(local: np.ndarray, ref: np.ndarray) -> dict[str, int]:
    """NaN, -inf and inf in `local` where the reference is finite, by label (zero counts left out)."""
    finite = np.isfinite(ref) if ref.dtype.kind == "f" else np.ones(ref.shape, dtype=bool)
    counts = {"-inf": int(np.count_nonzero(finite & (local == -np.inf))),
              "inf": int(np.count_nonzero(finite & (local == np.inf))),
              "NaN": int(np.count_nonzero(finite & np.isnan(local)))}
    return {label: count for label, count in counts.items() if count}
