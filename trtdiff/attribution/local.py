"""Run shadow models and measure each node's local error against the reference.

Each shadow model runs once on the target's runner factory (same backend and providers as the
target), its outputs are compared as they arrive and dropped, so memory stays within what one
shadow model feeds and produces.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import onnx

from trtdiff.attribution.hints import ScaleFits, local_hints, nonfinite_disagreement, relative_rms
from trtdiff.attribution.shadow import LocalOutput, ShadowModel
from trtdiff.measure.metrics import compute_metrics
from trtdiff.measure.tolerance import ToleranceSpec
from trtdiff.errors import TrtDiffError
from trtdiff.result import CauseHint, ErrorMetrics
from trtdiff.runners.base import Runner, infer_each

log = logging.getLogger(__name__)
NOTABLE = 1e-2  # local relative RMS error beyond which hints look at the arrays (~20x FP16 rounding)


@dataclass(frozen=True)
class LocalResult:
    tensor: str
    node: str
    precision: str  # the lowest type the node's cone computes or stores in
    metrics: ErrorMetrics
    passed: bool  # local error within the tensor's tolerance
    inherited: bool  # an input, as its producer stores it in the target, is already NaN/Inf
    hints: tuple[CauseHint, ...]
    own: ErrorMetrics | None = None  # local output vs the FP32 node on the same inputs (representation.py)
    charged_to: tuple[str, ...] = ()  # input tensors whose producers the local error is charged to


def run_shadows(shadows: Iterable[ShadowModel], lookup: Mapping[str, np.ndarray],
                make_runner: Callable[[onnx.ModelProto], Runner], tolerances: ToleranceSpec,
                nodes: Mapping[str, onnx.NodeProto]) -> tuple[dict[str, LocalResult], list[str], int]:
    """Local results by tensor name, warnings, and the number of shadow models run."""
    results: dict[str, LocalResult] = {}
    warnings: list[str] = []
    runs = 0
    fits = ScaleFits()  # quantizer statistics, shared by the nodes downstream of each quantizer
    for shadow in shadows:
        feeds = {name: fed_as(lookup[ref], dtype) for name, (ref, dtype) in shadow.feeds.items()}
        outputs = {o.shadow_name: o for o in shadow.outputs}

        def consume(name: str, array: np.ndarray) -> None:
            out = outputs.get(name)
            if out is None:
                return
            result = _local_result(out, lookup[out.tensor], array, lookup, tolerances,
                                   nodes[out.node], results, fits)
            if isinstance(result, str):
                warnings.append(result)
            else:
                results[out.tensor] = result

        try:
            with make_runner(shadow.model) as runner:
                infer_each(runner, feeds, consume)
        except TrtDiffError as err:  # the comparison itself stands; say what is missing and why
            warnings.append(f"a shadow model of {len(shadow.outputs)} nodes could not run, so their local "
                            f"errors are missing: {err.one_line()}")
        runs += 1
        log.info("shadow model %d: %d nodes, %d local outputs", runs, len(shadow.model.graph.node),
                 len(shadow.outputs))
    return results, warnings, runs


def fed_as(array: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """A reference tensor as the shadow model takes it (in the type the target holds it in)."""
    with np.errstate(over="ignore"):  # values past 65504 become inf in float16, as in the target
        return np.asarray(array).astype(dtype, copy=False)


def _local_result(out: LocalOutput, ref: np.ndarray, local: np.ndarray, lookup: Mapping[str, np.ndarray],
                  tolerances: ToleranceSpec, node: onnx.NodeProto,
                  earlier: Mapping[str, LocalResult], fits: ScaleFits) -> LocalResult | str:
    """Metrics and hints of one local output; `earlier` holds the local results of its producers
    (outputs arrive in topological order)."""
    if ref.shape != local.shape:
        return (f"{out.tensor}: local output of '{out.node}' has shape {list(local.shape)}, the reference "
                f"{list(ref.shape)}; no local error for it")
    if not (_float(ref) and _float(local)):
        ref, local = ref.astype(np.float64), local.astype(np.float64)
    atol, rtol = tolerances.for_tensor(out.tensor)
    metrics, passed = compute_metrics(ref, local, atol, rtol, tolerances.check, tolerances.rel_floor)
    float_inputs = {n: lookup[n] for n in dict.fromkeys(node.input) if n in lookup and _float(lookup[n])}
    inherited = any(nonfinite_disagreement(earlier[i].metrics) for i in node.input if i in earlier)
    notable = not passed or relative_rms(metrics) > NOTABLE
    quantized = [(q, lookup[q.tensor]) for q in out.quantizers if q.tensor in lookup]
    hints = local_hints(out.node, node.op_type, out.precision, ref, local, metrics, notable, inherited,
                        float_inputs, quantized, fits)
    return LocalResult(out.tensor, out.node, out.precision, metrics, passed, inherited, tuple(hints))


def _float(array: np.ndarray) -> bool:
    return bool(np.issubdtype(array.dtype, np.floating))
