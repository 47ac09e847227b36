"""Which nodes compute in the lower precision, and in which type each input and output travels.

A node's decision is read from its ONNX operator schema, not from a hand list: the type parameter
of its first output ('T') is lowered when the schema allows the lower type for it, and so is every
input that shares that parameter (Clip's min/max, Pad's constant value). Inputs typed by another
parameter that no output uses (Resize's roi, Pow's exponent, GridSample's grid) travel as they
come; inputs of a fixed type (Resize's scales: tensor(float), shapes, indices) keep that type.
Nodes whose values depend only on shapes and constants (shape plumbing) are left alone.

States: FULL = the original FP32 value; LOW = the value in the lower precision (a float16 tensor
when native, a rounded or fake-quantized float32 tensor when emulated); ACCEPT = take the input in
whatever state it arrives (the node's schema allows both).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import onnx
from onnx import TensorProto

from trtdiff.model import SUBGRAPH_OPS
from trtdiff.precision.analysis import (
    FLOAT,
    ModelFacts,
    OpSignature,
    amax,
)
from trtdiff.precision.plan import PrecisionPlan

FULL, LOW, ACCEPT = "full", "low", "accept"
LOWERED, KEPT, NEUTRAL, STATIC, CONTROL = "lowered", "kept", "neutral", "static", "control"

# Why a node stays in FP32: the rule that kept it (an FP32 node's `source`, besides bisect's own
# "search"); the Decision's `reason` says it in words, with the node's own facts.
KEPT_BY_PLAN = "plan"
KEPT_IN_KEPT_BODY = "inside a body kept in FP32"
KEPT_NO_SCHEMA = "no ONNX schema"
KEPT_IN_BODY = "inside an If/Loop/Scan body"
KEPT_NO_LOWER_FORM = "no lower-precision form"
KEPT_UNCALIBRATED = "no calibration range"
KEPT_OUT_OF_RANGE = "out-of-range constant"

# Native INT8/FP8: the inputs that get Q/DQ (TensorRT's explicit-quantization pattern), and for a
# constant weight the axis of its per-channel scales.
QUANTIZED_INPUTS = {"Conv": (0, 1), "ConvTranspose": (0, 1), "Gemm": (0, 1), "MatMul": (0, 1)}


@dataclass(frozen=True)
class Target:
    """The lower precision: the type tensors take, the type whose schema support decides which
    ops lower (float16 stands in for fp8/int8 emulation, which computes in FP32), its range."""

    name: str
    elem: int
    schema_elem: int
    max_value: float | None
    qdq: bool  # INT8/FP8 through QuantizeLinear/DequantizeLinear with calibrated scales


@dataclass
class Decision:
    kind: str
    inputs: list[str | None]  # per input slot: FULL, LOW, ACCEPT or None (not a float slot)
    outputs: list[str]  # per output slot: FULL or LOW
    groups: list[tuple[list[int], bool]] = field(default_factory=list)  # ACCEPT slots, LOW allowed
    axes: dict[int, int] = field(default_factory=dict)  # per-channel axis for a weight input
    reason: str = ""  # why a node is kept in FP32
    rule: str = ""  # which rule kept it (one of the KEPT_* values)
    notes: list[str] = field(default_factory=list)  # warnings (constants out of range)
    clamp: bool = False  # clamp this node's constants into the lower type's range


@dataclass
class Rules:
    """Everything a decision depends on besides the node itself."""

    plan: PrecisionPlan
    target: Target
    facts: ModelFacts
    ranges: dict[str, tuple[float, float]] | None = None  # calibrated tensor ranges (Q/DQ)
    force_keep: bool = False  # inside the body of a node kept in FP32
    in_body: bool = False


@dataclass
class View:
    """The part of the graph a decision looks at: data tensors and constants in scope."""

    data: set[str]
    constants: dict[str, TensorProto]


def decide(node: onnx.NodeProto, view: View, rules: Rules) -> Decision:
    types = rules.facts.types
    floats_in = [bool(n) and types.get(n) == FLOAT for n in node.input]
    base = Decision(KEPT, [FULL if f else None for f in floats_in], [FULL] * len(node.output))
    kept_by = (KEPT_IN_KEPT_BODY, KEPT_IN_KEPT_BODY) if rules.force_keep else (
        (KEPT_BY_PLAN, "kept by the plan") if rules.plan.keeps(node) else None)
    if node.op_type in SUBGRAPH_OPS and not node.domain:
        if kept_by is None:
            base.kind = CONTROL
            return base
        return _keep(base, *kept_by)
    if kept_by is not None:
        return _keep(base, *kept_by)
    floats_out = [bool(n) and types.get(n) == FLOAT for n in node.output]
    if not any(floats_in) and not any(floats_out) and node.op_type != "Cast":
        return Decision(NEUTRAL, [None] * len(node.input), base.outputs)
    if not any(n in view.data for n in node.input if n):
        base.kind = STATIC
        return base
    sig = rules.facts.signature(node)
    if sig is None:
        return _keep(base, KEPT_NO_SCHEMA, f"no ONNX schema for {node.domain or 'ai.onnx'}::{node.op_type}")
    if rules.target.qdq and rules.in_body and (rules.plan.mode == "emulated"
                                               or node.op_type in QUANTIZED_INPUTS):
        return _keep(base, KEPT_IN_BODY, "inside an If/Loop/Scan body, where int8/fp8 scales cannot be calibrated")
    if rules.target.qdq and rules.plan.mode == "native":
        return _decide_qdq(node, base, view, rules)
    if node.op_type == "Cast":
        return _decide_cast(node, sig, rules, base)
    return _decide_lowering(node, sig, view, rules, base)


def _keep(decision: Decision, rule: str, reason: str) -> Decision:
    """Mark `decision` as kept in FP32 by `rule`, saying why."""
    decision.kind, decision.rule, decision.reason = KEPT, rule, reason
    return decision


def _decide_cast(node: onnx.NodeProto, sig: OpSignature, rules: Rules, base: Decision) -> Decision:
    """Cast to float lowers by changing its `to`; its input travels as it comes."""
    to = next((int(a.i) for a in node.attribute if a.name == "to"), 0)
    out = sig.output_slot(0)
    if to != FLOAT or out is None or rules.target.schema_elem not in out.allowed:
        return Decision(NEUTRAL, [ACCEPT], [FULL], groups=[([0], True)])
    return Decision(LOWERED, [ACCEPT], [LOW], groups=[([0], True)])


def _decide_lowering(node: onnx.NodeProto, sig: OpSignature, view: View, rules: Rules,
                     base: Decision) -> Decision:
    types, low = rules.facts.types, rules.target.schema_elem
    in_slots = [sig.input_slot(i) for i in range(len(node.input))]
    out_slots = [sig.output_slot(j) for j in range(len(node.output))]
    bound: dict[str, int] = {}
    allowed: dict[str, frozenset[int]] = {}
    for name, slot in zip(node.input, in_slots):
        if name and slot is not None and slot.param and name in types:
            bound.setdefault(slot.param, types[name])
            allowed[slot.param] = slot.allowed
    out_params = {s.param for n, s in zip(node.output, out_slots) if n and s is not None and s.param}
    floats = {p for p, t in bound.items() if t == FLOAT}
    lowered = {p for p in floats & out_params if low in allowed[p]}
    primary = out_slots[0].param if out_slots and out_slots[0] is not None else None
    if primary in floats and primary not in lowered:
        type_name = onnx.helper.tensor_dtype_to_string(low).rsplit(".", 1)[-1].lower()
        return _keep(base, KEPT_NO_LOWER_FORM, f"{node.op_type} (opset {sig.since_version}) has no {type_name} form")
    decision = Decision(LOWERED if primary in lowered else NEUTRAL, list(base.inputs),
                        [LOW if s is not None and s.param in lowered and n else FULL
                         for n, s in zip(node.output, out_slots)])
    accept: dict[str, list[int]] = {}
    for i, slot in enumerate(in_slots):
        if base.inputs[i] is None or slot is None or slot.param is None:
            continue
        if slot.param in lowered:
            decision.inputs[i] = LOW
        elif slot.param in floats and slot.param not in out_params:
            decision.inputs[i] = ACCEPT
            accept.setdefault(slot.param, []).append(i)
    decision.groups = [(slots, low in allowed[p]) for p, slots in accept.items()]
    if decision.kind == LOWERED:
        if rules.target.qdq:
            missing = _uncalibrated(node, decision, view, rules)
            if missing:
                return _keep(base, KEPT_UNCALIBRATED, f"no calibration range for '{missing}'")
        _per_channel_axes(node, decision, view, rules)
        _check_range(node, decision, view, rules)
    return decision


def _uncalibrated(node: onnx.NodeProto, decision: Decision, view: View, rules: Rules) -> str:
    """The first fake-quantized activation of an emulated INT8 node that has no range."""
    ranges = rules.ranges or {}
    names = [n for n, w in zip(node.input, decision.inputs) if w == LOW and n not in view.constants]
    names += [n for n, w in zip(node.output, decision.outputs) if w == LOW]
    return next((n for n in names if n not in ranges), "")


def _check_range(node: onnx.NodeProto, decision: Decision, view: View, rules: Rules) -> None:
    """Constants beyond the lower type's range (65504 for FP16): keep the node, or clamp."""
    limit = rules.target.max_value
    if limit is None:
        return
    for i, name in enumerate(node.input):
        const = view.constants.get(name) if decision.inputs[i] == LOW else None
        if const is None:
            continue
        big = rules.facts.const_amax.get(name)
        if big is None:
            big = rules.facts.const_amax[name] = amax(const)
        if big <= limit:
            continue
        what = (f"node '{node.name}' ({node.op_type}): constant '{name}' holds values up to "
                f"{big:.6g}, beyond the {rules.target.name} range (±{limit:g})")
        if rules.plan.out_of_range == "keep":
            _keep(decision, KEPT_OUT_OF_RANGE,
                  f"constant '{name}' holds {big:.6g}, beyond the {rules.target.name} range (±{limit:g})")
            decision.inputs = [FULL if w is not None else None for w in decision.inputs]
            decision.outputs = [FULL] * len(decision.outputs)
            decision.groups = []
            decision.notes.append(what + ": node kept in FP32 (--out-of-range clamp to clamp instead)")
            return
        decision.clamp = True
        decision.notes.append(what + f": clamped to ±{limit:g}")


def _per_channel_axes(node: onnx.NodeProto, decision: Decision, view: View, rules: Rules) -> None:
    """Per-channel scale axis of a constant weight (Q/DQ targets only)."""
    if not (rules.target.qdq and rules.plan.per_channel and rules.facts.opset("") >= 13):
        return
    const = view.constants.get(node.input[1]) if len(node.input) > 1 else None
    if const is None or node.op_type not in QUANTIZED_INPUTS or decision.inputs[1] != LOW:
        return
    attrs = {a.name: a.i for a in node.attribute}
    rank = len(const.dims)
    axis = {"Conv": 0, "ConvTranspose": 1 if attrs.get("group", 1) == 1 else None,
            "Gemm": 0 if attrs.get("transB", 0) else 1,
            "MatMul": rank - 1 if rank >= 2 else None}[node.op_type]
    if axis is not None and rank > axis:
        decision.axes[1] = axis


def _decide_qdq(node: onnx.NodeProto, base: Decision, view: View, rules: Rules) -> Decision:
    """Native INT8/FP8: Q/DQ on the activation and weight inputs of the ops TensorRT runs in
    the quantized type; every other node keeps computing in FP32 and is left alone."""
    slots = QUANTIZED_INPUTS.get(node.op_type) if not node.domain else None
    if slots is None:
        return Decision(NEUTRAL, [None] * len(node.input), base.outputs)
    decision = Decision(LOWERED, list(base.inputs), list(base.outputs))
    for i in slots:
        if i >= len(node.input) or base.inputs[i] is None:
            continue
        name = node.input[i]
        if name not in view.constants and (rules.ranges is None or name not in rules.ranges):
            return _keep(base, KEPT_UNCALIBRATED, f"no calibration range for its input '{name}'")
        decision.inputs[i] = LOW
    if LOW not in decision.inputs:
        return Decision(NEUTRAL, [None] * len(node.input), base.outputs)
    _per_channel_axes(node, decision, view, rules)
    return decision
