"""One evaluation: apply a precision plan, run the target, compare the outputs with the reference.

Shared by the precision bisect (which varies the FP32 set) and reduce (which varies the subgraph).
A target that errors out counts as a failure, with its error message kept for the report.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import onnx

from trtdiff.bisect.state import Outcome
from trtdiff.measure.aggregate import SampleResult
from trtdiff.measure.align import compare_pair
from trtdiff.measure.tolerance import ToleranceSpec, spec_from_result
from trtdiff.errors import ToolUnavailable, TrtDiffError
from trtdiff.result import Tolerances

log = logging.getLogger(__name__)

Feeds = Mapping[str, np.ndarray]
Infer = Callable[[onnx.ModelProto, Feeds], dict[str, np.ndarray]]
Apply = Callable[[onnx.ModelProto, Any, Feeds], Any]  # (model, plan, feeds) -> AppliedPlan (has .model)


def onnxruntime_infer(providers: Sequence[str] = ("CPUExecutionProvider",)) -> Infer:
    """An `Infer` that runs a model once on ONNX Runtime and returns its graph outputs."""

    def infer(model: onnx.ModelProto, feeds: Feeds) -> dict[str, np.ndarray]:
        from trtdiff.runners.onnxrt import OnnxRuntimeRunner

        with OnnxRuntimeRunner(model, providers=tuple(providers)) as runner:
            return runner.infer(dict(feeds))

    return infer


def default_apply(model: onnx.ModelProto, plan: Any, feeds: Feeds | None = None) -> Any:
    """`trtdiff.precision.apply.apply_plan`, imported when first needed; `feeds` calibrate INT8/FP8."""
    from trtdiff.precision.apply import apply_plan

    return apply_plan(model, plan, [dict(feeds)] if feeds is not None else None)


def compare_outputs(reference: Feeds, outputs: Feeds, tolerances: Tolerances | ToleranceSpec,
                    names: Sequence[str] | None = None) -> Outcome:
    """Pass when every named output passes its checks on this sample (the decision `trtdiff run`
    makes); info holds each output's max_abs error and the failing outputs with why."""
    spec = tolerances if isinstance(tolerances, ToleranceSpec) else spec_from_result(tolerances)
    errors: dict[str, float] = {}
    failing: dict[str, str] = {}
    for name in names if names is not None else list(reference):
        result, why = judge_output(name, reference, outputs, spec)
        if result is not None:
            errors[name] = result.metrics.max_abs
        if why:
            failing[name] = why
    return Outcome(not failing, {"outputs": errors, "failing": failing})


def judge_output(name: str, reference: Feeds, outputs: Feeds, spec: ToleranceSpec) -> tuple[SampleResult | None, str]:
    """One output of one sample: its SampleResult (None when it could not be compared) and why it
    fails ("" when it passes)."""
    if name not in outputs:
        return None, "missing from the target's outputs"
    ref, got = np.asarray(reference[name]), np.asarray(outputs[name])
    if ref.shape != got.shape:
        return None, f"shape {got.shape} != reference {ref.shape}"
    result, _ = compare_pair(name, ref, got, spec, gated=True)
    return result, "" if result.passed else failure_reason(result, *spec.for_tensor(name), spec.checks_for(name, True))


def failure_reason(result: SampleResult, atol: float, rtol: float, checks: Sequence[Any]) -> str:
    """Why one sample of an output fails, in the terms of its checks."""
    metrics = result.metrics
    nonfinite = metrics.nan_target + metrics.inf_target - metrics.nan_ref - metrics.inf_ref
    extra = f", {nonfinite} NaN/Inf in the target" if nonfinite > 0 else ""
    failed = [str(check.label) for check, outcome in zip(checks, result.checks) if not outcome.passed]
    numeric = f"max_abs {metrics.max_abs:.3g}{extra}, {metrics.mismatches} mismatches (atol {atol:g}, rtol {rtol:g})"
    tasks = [label for label in failed if label.split(":")[0] in ("cosine", "snr", "topk")]
    return numeric if not tasks else f"{', '.join(tasks)} fails; {numeric}"


def run_plan(model: onnx.ModelProto, plan: Any, feeds: Feeds, reference: Feeds, tolerances: Tolerances,
             infer: Infer, apply: Apply = default_apply, names: Sequence[str] | None = None) -> Outcome:
    """Apply `plan` to `model`, run it, and compare; an error on the way is a failing outcome."""
    try:
        applied = apply(model, plan, feeds)
        outputs = infer(applied.model, feeds)
    except ToolUnavailable:
        raise  # not the plan's doing: the search stops with it
    except TrtDiffError as err:
        log.info("target failed: %s", err.one_line())
        return Outcome(False, {"error": err.one_line(), "outputs": {}, "failing": {}})
    return compare_outputs(reference, outputs, tolerances, names)


def feeds_digest(feeds: Feeds) -> str:
    """A hash of input names, shapes, dtypes and bytes: part of a state file's settings."""
    digest = hashlib.sha256()
    for name in sorted(feeds):
        array = np.ascontiguousarray(feeds[name])
        digest.update(f"{name}:{array.dtype}:{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()[:16]


def subgraph_plan(plan: Any, part: onnx.ModelProto) -> Any:
    """`plan` restricted to the nodes present in `part` (a piece cut from the planned model)."""
    import dataclasses

    present = {node.name for node in part.graph.node}
    keep = tuple(n for n in getattr(plan, "keep_fp32_nodes", ()) or () if n in present)
    if dataclasses.is_dataclass(plan) and not isinstance(plan, type) and hasattr(plan, "keep_fp32_nodes"):
        return dataclasses.replace(plan, keep_fp32_nodes=keep)
    return plan


def plan_check(plan: Any, reference: Feeds, tolerances: Tolerances, infer: Infer,
               apply: Apply = default_apply) -> Callable[[onnx.ModelProto, Feeds], Outcome]:
    """A reduce check: run a piece under `plan` and compare its outputs with the reference."""

    def check(part: onnx.ModelProto, feeds: Feeds) -> Outcome:
        names = [o.name for o in part.graph.output]
        return run_plan(part, subgraph_plan(plan, part), feeds, reference, tolerances, infer, apply, names)

    return check
