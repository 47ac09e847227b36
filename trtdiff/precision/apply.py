"""Apply a precision plan to a model: one ONNX-to-ONNX transform per target and mode.

    fp16/bf16 native    nodes compute in float16/bfloat16 (convert.py)
    fp16/bf16/fp8 emu   FP32 compute, tensors rounded through Cast pairs (emulate.py)
    int8/fp8 native     Q/DQ on Conv/Gemm/MatMul inputs, quantized weights (qdq.py)
    int8 emulated       every lowered tensor fake-quantized through Q/DQ (qdq.py)

The input model is never changed. Every original node keeps its name and every original node
output keeps its tensor name, so target tensors align with the FP32 reference by name.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import TensorProto

from trtdiff.errors import UsageError
from trtdiff.precision.analysis import FLOAT, ModelFacts, model_facts
from trtdiff.precision.calibrate import Ranges, calibrate_ranges
from trtdiff.precision.convert import NativeCast
from trtdiff.precision.decide import Rules, Target
from trtdiff.precision.emulate import CastEmulation
from trtdiff.precision.opsets import default_opset, fit_opset, other_domains
from trtdiff.precision.plan import PrecisionPlan, all_node_names, validate_plan
from trtdiff.precision.qdq import QDQEmulation, QDQNative
from trtdiff.precision.graphs import all_names, retype
from trtdiff.precision.rewrite import Context, GraphWalk, Strategy, WalkMemo

log = logging.getLogger(__name__)

FP16, BF16, FP8, INT8 = (TensorProto.FLOAT16, TensorProto.BFLOAT16, TensorProto.FLOAT8E4M3FN,
                         TensorProto.INT8)
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
    warnings: tuple[str, ...]  # e.g. constants out of FP16 range, by node; an opset conversion
    lowered_nodes: tuple[str, ...]  # nodes that compute / are rounded in the lower type
    kept_nodes: tuple[str, ...]  # nodes with float work left in FP32
    kept_reasons: Mapping[str, str] = field(default_factory=dict)  # node -> why it stayed FP32
    ranges: Mapping[str, tuple[float, float]] | None = None  # calibrated ranges (int8/fp8)
    kept_rules: Mapping[str, str] = field(default_factory=dict)  # node -> the rule that kept it (decide.KEPT_*)


def apply_plan(model: onnx.ModelProto, plan: PrecisionPlan,
               calibration_feeds: Sequence[Mapping[str, np.ndarray]] | None = None, *,
               ranges: Mapping[str, tuple[float, float]] | None = None) -> AppliedPlan:
    """Transform `model` as `plan` says. INT8 and native FP8 need tensor ranges: measured from
    `calibration_feeds`, or given as `ranges` (tensor name -> (low, high), e.g. measured once on
    the full model and reused for a shadow model). A model whose opset cannot express the target
    is converted first (see opsets.py); a plan that lowers no node gives the model unchanged."""
    return PlanApplier(model, calibration_feeds, ranges=ranges).apply(plan)


@dataclass
class _Prepared:
    """What applying plans of one precision and mode to a model shares, whatever nodes they keep."""

    working: onnx.ModelProto  # the model at the opset the target needs
    notes: list[str]
    target: Target
    facts: ModelFacts
    ranges: Ranges | None
    names: tuple[frozenset[str], frozenset[str]]  # tensor and node names in use
    memo: WalkMemo = field(default_factory=WalkMemo)


class PlanApplier:
    """`apply_plan` for many plans on one model: bisect applies hundreds that differ only in the
    nodes they keep in FP32. The opset fitting, the tensor types (shape inference), the ranges, each
    node's decision either way and every converted constant are worked out once per precision and
    mode and reused; each plan's model is still built by the one walk, so it is exactly the model
    `apply_plan` gives. The model must not change while the applier is in use."""

    def __init__(self, model: onnx.ModelProto, calibration_feeds: Sequence[Mapping[str, np.ndarray]] | None = None,
                 *, ranges: Mapping[str, tuple[float, float]] | None = None) -> None:
        self.model = model
        self._feeds, self._ranges = calibration_feeds, ranges
        self._prepared: dict[PrecisionPlan, _Prepared | None] = {}
        self._valid: set[PrecisionPlan] = set()
        self._node_names: frozenset[str] | None = None

    def apply(self, plan: PrecisionPlan) -> AppliedPlan:
        """The model `plan` makes of this applier's model (see `apply_plan`)."""
        base = dataclasses.replace(plan, keep_fp32_nodes=())
        self._validate(plan, base)
        if not plan.lowers:
            return AppliedPlan(_copy(self.model), (), (), ())
        if base not in self._prepared:
            self._prepared[base] = self._prepare(plan)
        prepared = self._prepared[base]
        if prepared is None:
            return AppliedPlan(_copy(self.model), (nothing_to_convert(self.model, plan, {}),), (), ())
        return self._walk(plan, prepared)

    def _validate(self, plan: PrecisionPlan, base: PrecisionPlan) -> None:
        """`validate_plan`, with the model's node names listed once and op types checked once."""
        if plan.keep_fp32_nodes:
            if self._node_names is None:
                self._node_names = frozenset(all_node_names(self.model.graph))
            if not self._node_names.issuperset(plan.keep_fp32_nodes):
                validate_plan(plan, self.model)  # raises, naming the node the model lacks
        if base not in self._valid:
            validate_plan(base, self.model)
            self._valid.add(base)

    def _prepare(self, plan: PrecisionPlan) -> _Prepared | None:
        target, min_opset = TARGETS[(plan.default, plan.mode)]
        fitted = _fitted(self.model, plan, min_opset, target)
        if fitted is None:
            return None
        working, notes = fitted
        facts = model_facts(working)
        tensor_ranges = _ranges(working, plan, target, facts, self._feeds, self._ranges)
        tensors, nodes = all_names(working.graph)
        return _Prepared(working, notes, target, facts, tensor_ranges, (frozenset(tensors), frozenset(nodes)))

    def _walk(self, plan: PrecisionPlan, prepared: _Prepared) -> AppliedPlan:
        working, facts, tensor_ranges = prepared.working, prepared.facts, prepared.ranges
        rules = Rules(plan, prepared.target, facts, ranges=tensor_ranges)
        ctx = Context(rules, _strategy(plan, prepared.target, tensor_ranges or {}), set(prepared.names[0]),
                      set(prepared.names[1]), working.ir_version, memo=prepared.memo)
        result = _copy(working)
        GraphWalk(ctx, result.graph, None, force_keep=False).run()
        retype(result.graph, ctx.retyped, io=True)
        warnings = list(ctx.warnings)
        if facts.unknown:
            warnings.append(f"{facts.unknown} tensors have no known type; nodes reading them stay FP32")
        log.info("%s: %d nodes lowered, %d kept in FP32", plan.describe(), len(ctx.lowered), len(ctx.kept))
        if not ctx.lowered:
            result, warnings = _copy(self.model), [*warnings, nothing_to_convert(self.model, plan, ctx.kept_by)]
        else:
            warnings = prepared.notes + warnings
        return AppliedPlan(result, tuple(warnings), tuple(ctx.lowered), tuple(ctx.kept), dict(ctx.reasons),
                           tensor_ranges, dict(ctx.kept_by))


def _fitted(model: onnx.ModelProto, plan: PrecisionPlan, min_opset: int,
            target: Target) -> tuple[onnx.ModelProto, list[str]] | None:
    """`fit_opset`'s model and notes; None when converting the opset fails on a model with no
    float32 tensor (test_bitshift_*: an integer model has nothing to lower, so no opset to fit)."""
    try:
        return fit_opset(model, f"{plan.default} {plan.mode}", min_opset, target.elem, target.qdq)
    except UsageError:
        facts = model_facts(model)
        if facts.unknown or FLOAT in facts.types.values():
            raise
        return None


def nothing_to_convert(model: onnx.ModelProto, plan: PrecisionPlan, kept_by: Mapping[str, str]) -> str:
    """Why a plan changes nothing in `model`, true to the model: no float computation, only
    custom-domain nodes, or every float node kept in FP32 (and by which rules)."""
    what = f"nothing to convert to {plan.default}: the target is the model unchanged"
    domains = other_domains(model)
    if not default_opset(model) and domains:
        return (f"{what}; the model imports no ai.onnx opset, only {', '.join(domains)}, and ONNX defines no "
                f"{plan.default} form for the nodes of those domains, so they stay FP32")
    if not kept_by:
        return f"{what}; no node computes in float32"
    rules = Counter(kept_by.values())
    listed = ", ".join(f"{count} {rule}" for rule, count in rules.most_common())
    return f"{what}; every node that computes in float32 stays FP32 ({listed})"


def _copy(model: onnx.ModelProto) -> onnx.ModelProto:
    result = onnx.ModelProto()
    result.CopyFrom(model)
    return result


def _strategy(plan: PrecisionPlan, target: Target, ranges: Ranges) -> Strategy:
    if target.qdq:
        return (QDQNative if plan.mode == "native" else QDQEmulation)(target.elem, ranges)
    if plan.mode == "native":
        return NativeCast(target.elem, plan.keep_io_types)
    return CastEmulation(target.elem)


def _ranges(model: onnx.ModelProto, plan: PrecisionPlan, target: Target, facts: ModelFacts,
            feeds: Sequence[Mapping[str, np.ndarray]] | None,
            given: Mapping[str, tuple[float, float]] | None) -> Ranges | None:
    if not target.qdq:
        return None
    if given is not None:
        return {k: (float(v[0]), float(v[1])) for k, v in given.items()}
    if FLOAT not in facts.types.values():
        return {}  # nothing a scale could apply to: no calibration run
    if not feeds:
        raise UsageError(f"{plan.default} {plan.mode} needs calibration data",
                         "its quantization scales come from the ranges tensors take on real inputs",
                         "pass calibration inputs (e.g. --calibration-data inputs.npz) or tensor ranges, "
                         "or use --emulate fp16")
    return calibrate_ranges(model, feeds, plan.calibration, plan.percentile)
