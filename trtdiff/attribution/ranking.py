"""`local_error_ranking` for bisect: rank a plan's nodes by local error in one call."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import onnx

from trtdiff.attribution.local import LocalResult
from trtdiff.precision.plan import PrecisionPlan
from trtdiff.runners.base import Runner

CPU = ("CPUExecutionProvider",)


def ranking(model: onnx.ModelProto, plan: PrecisionPlan, feeds: Mapping[str, np.ndarray]) -> list[str]:
    """Apply `plan`, run the FP32 reference and the shadow models on ONNX Runtime CPU, and return
    node names worst local error first (ties: topological order). Native FP16/BF16 plans run
    emulated, as `trtdiff run` does on CPU: the CPU provider computes FP16 nodes in FP32."""
    from trtdiff.attribution.core import attribute, reference_inputs_needed
    from trtdiff.measure.tolerance import ToleranceSpec
    from trtdiff.model import comparable_tensors, ensure_node_names, inferred_value_info
    from trtdiff.reference import run_reference
    from trtdiff.precision.apply import apply_plan
    from trtdiff.runners.onnxrt import OnnxRuntimeRunner

    named = onnx.ModelProto()
    named.CopyFrom(model)
    ensure_node_names(named)
    target = apply_plan(named, plan.for_onnxruntime_cpu(), [feeds]).model
    infos = inferred_value_info(named)  # shape inference once, for listing and for marking
    tensors, _ = comparable_tensors(named, infos=infos)
    selected = [t.name for t in tensors]
    reference = run_reference(named, selected + reference_inputs_needed(named, selected), dict(feeds), CPU,
                              infos=infos)

    def make_runner(shadow: onnx.ModelProto) -> Runner:
        return OnnxRuntimeRunner(shadow, CPU, optimize=False, name="shadow")

    result = attribute(named, target, selected, reference, feeds, make_runner, ToleranceSpec())
    index = {t.name: t.index for t in tensors}
    best: dict[str, tuple[float, int]] = {}
    for local in result.local.values():
        key = (-result.scores[local.tensor], index[local.tensor])
        best[local.node] = min(best.get(local.node, key), key)
    return with_charged_readers(sorted(best, key=lambda node: (best[node], node)), result.local.values())


def with_charged_readers(order: list[str], results: Iterable[LocalResult]) -> list[str]:
    """`order` with each node whose local error was charged to a producer moved right after that
    producer: keeping the producer in FP32 does not help while the reader still takes the tensor in
    the lower type (log of an FP32 tensor converted to FP16 flushes all the same), so a search that
    keeps one tries the other next."""
    readers: dict[str, list[str]] = {}
    producer_of = {r.tensor: r.node for r in results}
    for r in results:
        for tensor in r.charged_to:
            if tensor in producer_of and r.node not in readers.setdefault(producer_of[tensor], []):
                readers[producer_of[tensor]].append(r.node)
    placed: dict[str, None] = {}
    for node in order:
        stack = [node]
        while stack:  # a reader's own charged readers follow it in turn
            name = stack.pop()
            if name not in placed:
                placed[name] = None
                stack.extend(reversed(readers.get(name, ())))
    return list(placed)
