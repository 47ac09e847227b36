"""Apply a precision plan to a model: one ONNX-to-ONNX transform per target and mode.

    fp16/bf16 native    nodes compute in float16/bfloat16 (convert.py)
    fp16/bf16/fp8 emu   FP32 compute, tensors rounded through Cast pairs (emulate.py)
    int8/fp8 native     Q/DQ on Conv/Gemm/MatMul inputs, quantized weights (qdq.py)
    int8 emulated       every lowered tensor fake-quantized through Q/DQ (qdq.py)

The input model is never changed. Every original node keeps its name and every original node
output keeps its tensor name, so target tensors align with the FP32 reference by name.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import TensorProto

from trtdiff.errors import UsageError
from trtdiff.precision.analysis import model_facts, op_signature
from trtdiff.precision.calibrate import Ranges, calibrate_ranges
from trtdiff.precision.convert import NativeCast
from trtdiff.precision.decide import Rules, Target
from trtdiff.precision.emulate import CastEmulation
from trtdiff.precision.plan import PrecisionPlan, validate_plan
from trtdiff.precision.qdq import QDQEmulation, QDQNative
from trtdiff.precision.rewrite import Context, GraphWalk, Strategy, all_names, retype

log = logging.getLogger(__name__)

FP16, BF16, FP8, INT8 = (TensorProto.FLOAT16, TensorProto.BFLOAT16, TensorProto.FLOAT8E4M3FN,
                         TensorProto.INT8)
PER_CHANNEL_OPSET = 13  # per-channel Q/DQ (an axis attribute) needs ai.onnx 13
# (precision, mode) -> (target, lowest default-domain opset its inserted nodes need)
TARGETS = {
    ("fp16", "native"): (Target("fp16", FP16, FP16, 65504.0, qdq=False), 6),
    ("bf16", "native"): (Target("bf16", BF16, BF16, None, qdq=False), 13),
    ("fp16", "emulated"): (Target("fp16", FP16, FP16, 65504.0, qdq=False), 6),
    ("bf16", "emulated"): (Target("bf16", BF16, BF16, None, qdq=False), 13),
    ("fp8", "emulated"): (Target("fp8", FP8, FP16, 448.0, qdq=False), 19),
    ("int8", "native"): (Target("int8", INT8, FP16, None, qdq=True), 10),
    ("int8", "emulated"): (Target("int8", INT8, FP16, None, qdq=True), 10),
    ("fp8", "native"): (Target("fp8", FP8, FP16, None, qdq=True), 19),
}


@dataclass(frozen=True)
class AppliedPlan:
    model: onnx.ModelProto  # the transformed model (the input model is not mutated)
    warnings: tuple[str, ...]  # e.g. constants out of FP16 range, by node
    lowered_nodes: tuple[str, ...]  # nodes that compute / are rounded in the lower type
    kept_nodes: tuple[str, ...]  # nodes with float work left in FP32
    kept_reasons: Mapping[str, str] = field(default_factory=dict)  # node -> why it stayed FP32
    ranges: Mapping[str, tuple[float, float]] | None = None  # calibrated ranges (int8/fp8)


def apply_plan(model: onnx.ModelProto, plan: PrecisionPlan,
               calibration_feeds: Sequence[Mapping[str, np.ndarray]] | None = None, *,
               ranges: Mapping[str, tuple[float, float]] | None = None) -> AppliedPlan:
    """Transform `model` as `plan` says. INT8 and native FP8 need tensor ranges: measured from
    `calibration_feeds`, or given as `ranges` (tensor name -> (low, high), e.g. measured once on
    the full model and reused for a shadow model)."""
    validate_plan(plan, model)
    result = onnx.ModelProto()
    result.CopyFrom(model)
    if not plan.lowers:
        return AppliedPlan(result, (), (), ())
    target, min_opset = TARGETS[(plan.default, plan.mode)]
    facts = model_facts(model)
    if not facts.unknown and TensorProto.FLOAT not in facts.types.values():
        return AppliedPlan(result, (f"the model has no float32 tensor, so {plan.default} changes nothing",), (), ())
    imported = facts.opset("")
    if not imported:  # only other domains (ai.onnx.ml): the inserted Casts / Q/DQ bring their own
        facts.opsets["ai.onnx"] = facts.opsets[""] = max(min_opset, PER_CHANNEL_OPSET)
    _check_opset(plan, facts.opset(""), min_opset, target)
    tensor_ranges = _ranges(model, plan, target, calibration_feeds, ranges)
    rules = Rules(plan, target, facts, ranges=tensor_ranges)
    tensor_names, node_names = all_names(model.graph)
    ctx = Context(rules, _strategy(plan, target, tensor_ranges or {}), tensor_names, node_names,
                  model.ir_version)
    GraphWalk(ctx, result.graph, None, force_keep=False).run()
    retype(result.graph, ctx.retyped, io=True)
    if not imported and any(node.domain in ("", "ai.onnx") for node in result.graph.node):
        _import_default_domain(result, facts.opset(""))
    warnings = list(ctx.warnings)
    if facts.unknown:
        warnings.append(f"{facts.unknown} tensors have no known type; nodes reading them stay FP32")
    log.info("%s: %d nodes lowered, %d kept in FP32", plan.describe(), len(ctx.lowered), len(ctx.kept))
    return AppliedPlan(result, tuple(warnings), tuple(ctx.lowered), tuple(ctx.kept),
                       dict(ctx.reasons), tensor_ranges)


def _strategy(plan: PrecisionPlan, target: Target, ranges: Ranges) -> Strategy:
    if target.qdq:
        return (QDQNative if plan.mode == "native" else QDQEmulation)(target.elem, ranges)
    if plan.mode == "native":
        return NativeCast(target.elem, plan.keep_io_types)
    return CastEmulation(target.elem)


def _import_default_domain(model: onnx.ModelProto, opset: int) -> None:
    """Add the ai.onnx import the inserted nodes need to a model that had none (an ai.onnx.ml
    model), raising its IR version to one that knows that opset."""
    model.opset_import.append(onnx.helper.make_opsetid("", opset))
    model.ir_version = max(model.ir_version, onnx.helper.find_min_ir_version_for([model.opset_import[-1]]))


def _check_opset(plan: PrecisionPlan, opset: int, needed: int, target: Target) -> None:
    cast = op_signature("Cast", "", opset or 1)
    castable = cast is not None and (target.qdq or target.elem in cast.outputs[0].allowed)
    if opset < needed or not castable:
        raise UsageError(
            f"{plan.default} {plan.mode} needs a model of opset {needed} or later",
            f"this model imports ai.onnx opset {opset}, where the nodes it needs cannot take "
            f"{plan.default}",
            f"upgrade it: onnx.version_converter.convert_version(model, {max(needed, 13)})"
            + ("; or use --emulate fp16" if plan.default != "fp16" else ""))


def _ranges(model: onnx.ModelProto, plan: PrecisionPlan, target: Target,
            feeds: Sequence[Mapping[str, np.ndarray]] | None,
            given: Mapping[str, tuple[float, float]] | None) -> Ranges | None:
    if not target.qdq:
        return None
    if given is not None:
        return {k: (float(v[0]), float(v[1])) for k, v in given.items()}
    if not feeds:
        raise UsageError(f"{plan.default} {plan.mode} needs calibration data",
                         "its quantization scales come from the ranges tensors take on real inputs",
                         "pass calibration inputs (e.g. --calibration-data inputs.npz) or tensor ranges, "
                         "or use --emulate fp16")
    return calibrate_ranges(model, feeds, plan.calibration, plan.percentile)
