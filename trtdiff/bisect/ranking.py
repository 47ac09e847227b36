"""The order the precision search tries nodes in: attribution's local-error ranking, a ranking
the user gives, or graph order, with the consumers of overflowing tensors moved up.

Local error ranks the node whose output leaves the target type's range (say a square past 65504),
but not the nodes that read that tensor: their own local error is small, yet keeping the producer
in FP32 does not help while they read the tensor in the lower type (it is rounded to inf on the way
in). So right after a top-ranked node whose reference output exceeds the type's largest finite
value, its consumers are tried too. Costs one FP32 run marking those nodes' outputs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Union

import numpy as np
import onnx

from trtdiff.bisect.evaluate import Feeds, Infer
from trtdiff.model import with_outputs


Ranking = Union[Sequence[str], Callable[[], Sequence[str]], None]
LARGEST_FINITE = {"fp16": 65504.0, "fp8": 448.0}  # bf16 shares FP32's range; int8 is scaled
PROMOTE_TOP = 32  # how many top-ranked nodes are checked for overflowing outputs


def resolve_ranking(ranking: Ranking, model: onnx.ModelProto, plan: Any, feeds: Feeds,
                    candidates: Sequence[str], reference_infer: Infer) -> tuple[list[str], str, list[str]]:
    """The candidates, worst local error first (unranked candidates follow in graph order), where
    the order came from, and the consumers of overflowing tensors that were moved up."""
    source = "given"
    if ranking is None:
        from trtdiff.attribution import local_error_ranking

        ranked: Sequence[str] = local_error_ranking(model, plan, feeds)
        source = "local error (attribution)"
    else:
        ranked = ranking() if callable(ranking) else ranking
    wanted = set(candidates)
    ordered = [n for n in dict.fromkeys(ranked) if n in wanted]
    seen = set(ordered)
    ordered += [n for n in candidates if n not in seen]
    promoted: list[str] = []
    if source == "local error (attribution)":
        ordered, promoted = promote_overflow_consumers(model, getattr(plan, "default", ""), feeds, ordered,
                                                       reference_infer)
        if promoted:
            source += f"; consumers of overflowing tensors moved up ({', '.join(promoted)})"
    return ordered, source, promoted


def promote_overflow_consumers(model: onnx.ModelProto, precision: str, feeds: Feeds, ordered: list[str],
                               reference_infer: Infer) -> tuple[list[str], list[str]]:
    """`ordered` with the consumers of each top-ranked node's overflowing outputs right after it."""
    limit = LARGEST_FINITE.get(precision)
    nodes = {node.name: node for node in model.graph.node}
    top = [name for name in ordered[:PROMOTE_TOP] if name in nodes]
    tensors = [out for name in top for out in nodes[name].output if out]
    if limit is None or not tensors:
        return ordered, []
    values = reference_infer(with_outputs(model, tensors), feeds)
    over = {t for t in tensors if t in values and _max_abs(values[t]) > limit}
    consumers: dict[str, list[str]] = {}
    for node in model.graph.node:
        for name in node.input:
            if name in over:
                consumers.setdefault(name, []).append(node.name)
    allowed = set(ordered)
    result: list[str] = []
    promoted: list[str] = []
    for name in ordered:
        if name in result:
            continue
        result.append(name)
        for out in nodes[name].output if name in nodes else ():
            for user in consumers.get(out, ()):
                if user in allowed and user not in result:
                    result.append(user)
                    promoted.append(user)
    return result, promoted


def _max_abs(array: np.ndarray) -> float:
    if array.dtype.kind != "f" or array.size == 0:
        return 0.0
    finite = np.abs(array[np.isfinite(array)])
    return float(finite.max()) if finite.size else 0.0


def local_facts(model: onnx.ModelProto, plan: Any, feeds: Feeds, nodes: Sequence[str]) -> dict[str, str]:
    """Node -> its local error and cause hints under `plan` (from attribution), for the final set's
    reasons; empty when the plan is not a PrecisionPlan."""
    from trtdiff.attribution import attribute, reference_inputs_needed
    from trtdiff.precision.plan import PrecisionPlan

    if not nodes or not isinstance(plan, PrecisionPlan):
        return {}

    from trtdiff.measure.tolerance import ToleranceSpec
    from trtdiff.reference import run_reference
    from trtdiff.precision.apply import apply_plan
    from trtdiff.runners.onnxrt import OnnxRuntimeRunner

    target = apply_plan(model, plan.for_onnxruntime_cpu(), [dict(feeds)]).model
    wanted = set(nodes)
    selected = [out for node in model.graph.node if node.name in wanted for out in node.output if out]
    reference = run_reference(model, selected + reference_inputs_needed(model, selected), dict(feeds),
                              ("CPUExecutionProvider",))
    result = attribute(model, target, selected, reference, feeds,
                       lambda shadow: OnnxRuntimeRunner(shadow, ("CPUExecutionProvider",), name="shadow"),
                       ToleranceSpec())
    facts: dict[str, str] = {}
    for local in result.local.values():
        hints = "; ".join(hint.message for hint in local.hints)
        facts[local.node] = f"local error max_abs {local.metrics.max_abs:.3g}" + (f" ({hints})" if hints else "")
    return facts
