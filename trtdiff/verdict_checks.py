"""What a verdict must not hide: a reference that is itself NaN/Inf, and a run that compared nothing.

NaN in the FP32 reference agrees with NaN in the target, so a model whose reference output is
all NaN would pass every check: that output is reported, and the verdict cannot be PASS unless
the user accepts it (`--allow-nonfinite-reference`). A run whose gated tensors hold no element
(batch 0, empty outputs) passes vacuously: it says so.
"""

from __future__ import annotations

from collections.abc import Sequence

from trtdiff.result import TensorResult

ALLOW_FLAG = "--allow-nonfinite-reference"


def nonfinite_reference(gated: Sequence[TensorResult]) -> tuple[str, ...]:
    """Gated tensors whose FP32 reference holds NaN or Inf."""
    return tuple(t.name for t in gated if t.metrics is not None and t.metrics.nan_ref + t.metrics.inf_ref > 0)


def verdict_passes(gated: Sequence[TensorResult], extra: Sequence[TensorResult], nonfinite: Sequence[str],
                   allowed: bool) -> bool:
    """Some tensor is gated, every gated and `extra` tensor passed, and no gated reference holds
    NaN/Inf unless the user accepts it."""
    return bool(gated) and all(t.passed is True for t in [*gated, *extra]) and (not nonfinite or allowed)


def verdict_warnings(gated: Sequence[TensorResult], nonfinite: Sequence[str], allowed: bool) -> list[str]:
    """One warning per non-finite reference output, and one when nothing was compared."""
    by_name = {t.name: t for t in gated}
    warnings = []
    for name in nonfinite:
        m = by_name[name].metrics
        assert m is not None
        consequence = ("accepted (--allow-nonfinite-reference): NaN and the same infinity agree with the target"
                       if allowed else f"the verdict cannot pass on it; check the model and inputs, or accept it "
                                       f"with {ALLOW_FLAG}")
        warnings.append(f"the FP32 reference output '{name}' holds {m.nan_ref} NaN and {m.inf_ref} Inf of "
                        f"{m.size} values: {consequence}")
    if nothing_compared(gated):
        warnings.append("no element was compared: every output the verdict rests on is empty (a batch of 0?), "
                        "so it says nothing about accuracy")
    return warnings


def nothing_compared(gated: Sequence[TensorResult]) -> bool:
    """Whether the tensors the verdict rests on were compared and all hold no element."""
    compared = [t for t in gated if t.metrics is not None]
    return bool(compared) and all(t.metrics is not None and t.metrics.size == 0 for t in compared)
