"""Is a node's local error its own, or only how its inputs are represented in the target type?

A node fed a tensor the target type cannot hold (values that flushed to zero in FP16) shows the
damage (log(0) = -inf) without causing it. For every node whose local error is notable, a second
shadow pass computes the reference's own FP32 node on the very inputs the target's node reads
(upcast to float32): `own` = the local output against that FP32 output, what the node's lowered
computation adds by itself. When `own` is at the level of plain rounding, the local error is
representation only, and:

- it is charged to the producers of the inputs that were already lossy in their own local output
  (lowered there, with notable error: they stored values the type cannot hold), and the node gets
  a hint of its own kind: `domain` where it turns those values into NaN/Inf ("log of zeros gives
  -inf"), `inherited` otherwise;
- with no such producer (the node converts FP32 inputs itself, or it amplifies rounding that is
  harmless alone: cancellation), the error stays the node's own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace

import numpy as np
import onnx

from trtdiff.attribution.chunks import chunk_tensors
from trtdiff.attribution.effects import effect_hint, inner_overflow_hint
from trtdiff.attribution.hints import nonfinite_disagreement, relative_rms
from trtdiff.attribution.index import TargetIndex
from trtdiff.attribution.local import NOTABLE, LocalResult, fed_as
from trtdiff.measure.metrics import measure
from trtdiff.measure.tolerance import ToleranceSpec
from trtdiff.errors import TrtDiffError
from trtdiff.model import subgraphs
from trtdiff.runners.base import Runner, infer_each

log = logging.getLogger(__name__)


def notable(result: LocalResult) -> bool:
    """Local error worth explaining: out of tolerance, beyond plain rounding, or NaN/Inf."""
    return not result.passed or relative_rms(result.metrics) > NOTABLE or nonfinite_disagreement(result.metrics)


def lossy(result: LocalResult) -> bool:
    """A lowered node whose own local output already lost what the target type cannot hold."""
    return result.precision != "fp32" and notable(result)


def check_representation(results: Mapping[str, LocalResult], index: TargetIndex,
                         nodes: Mapping[str, onnx.NodeProto], lookup: Mapping[str, np.ndarray],
                         make_runner: Callable[[onnx.ModelProto], Runner], tolerances: ToleranceSpec,
                         budget: int) -> tuple[dict[str, LocalResult], list[str], int]:
    """`results` with `own`, `charged_to` and the effect hints of every notable node (in
    topological order, so a producer is judged before its readers); warnings; shadow runs."""
    updated = dict(results)
    wanted = [(t, r.node) for t, r in results.items() if notable(r) and not list(subgraphs(nodes[r.node]))]
    warnings: list[str] = []
    runs = 0
    sizes = {k: int(v.nbytes) for k, v in lookup.items() if isinstance(v, np.ndarray)}
    for shadow in chunk_tensors(index, wanted, sizes, budget, reference_nodes=nodes):
        outputs = {o.shadow_name: o for o in shadow.outputs}
        partner = {**shadow.representations, **{v: k for k, v in shadow.representations.items()}}
        pending: dict[str, np.ndarray] = {}

        def consume(name: str, array: np.ndarray) -> None:
            if name not in partner:
                return
            if partner[name] not in pending:
                pending[name] = array
                return
            other = pending.pop(partner[name])
            local, fp32 = (array, other) if name in outputs else (other, array)
            out = outputs[name if name in outputs else partner[name]]
            updated[out.tensor] = judged(updated[out.tensor], local, fp32, lookup, updated, nodes[out.node],
                                         tolerances)

        feeds = {name: fed_as(lookup[ref], dtype) for name, (ref, dtype) in shadow.feeds.items()}
        try:
            with make_runner(shadow.model) as runner:
                infer_each(runner, feeds, consume)
        except TrtDiffError as err:  # the local errors stand; only the check of their cause is missing
            warnings.append(f"could not tell representation from computation for {len(shadow.outputs)} nodes: "
                            f"{err.one_line()}")
        runs += 1
    return updated, warnings, runs


def judged(result: LocalResult, local: np.ndarray, fp32: np.ndarray, lookup: Mapping[str, np.ndarray],
           results: Mapping[str, LocalResult], node: onnx.NodeProto, tolerances: ToleranceSpec) -> LocalResult:
    """`result` with the node's own error, and where its local error goes when it is not its own
    (`lookup` holds the reference tensors: the node's output and inputs)."""
    ref = lookup[result.tensor]
    if local.shape != fp32.shape:
        return result
    local, fp32 = _comparable(local), _comparable(fp32)
    atol, rtol = tolerances.for_tensor(result.tensor)
    # the node's own error is read for its SNR and NaN/Inf counts only: no quantiles
    own = measure(fp32, local, atol, rtol, tolerances.rel_floor, exact_quantiles=False).metrics
    if nonfinite_disagreement(own) or relative_rms(own) > NOTABLE:
        extra = inner_overflow_hint(result, own, ref)
        return replace(result, own=own, hints=result.hints + ((extra,) if extra else ()))
    charged = tuple(i for i in dict.fromkeys(node.input) if i in results and i != result.tensor and lossy(results[i]))
    inputs = {i: _comparable(np.asarray(lookup[i])) for i in dict.fromkeys(node.input)
              if i in lookup and np.asarray(lookup[i]).dtype.kind == "f"}
    effect = effect_hint(result, node.op_type, local, ref, [results[i] for i in charged], inputs,
                         relative_rms(own))
    if charged:
        return replace(result, own=own, charged_to=charged, hints=(effect,) if effect else ())
    explained = any(h.kind == "overflow" for h in result.hints)  # its output is beyond the range itself
    return replace(result, own=own, hints=result.hints + ((effect,) if effect and not explained else ()))


def _comparable(array: np.ndarray) -> np.ndarray:
    """float32 and float64 arrays as they are: the comparison kernel reads either in float64 (a
    float32 pair takes its SIMD pass), and the type limits the hints compare with are float32
    values; float16 and other types as float64."""
    return array if array.dtype in (np.float32, np.float64) else array.astype(np.float64)
