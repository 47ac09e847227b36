"""TensorRT's ONNX operator table (`trtdiff/data/trt_onnx_ops.json`) and what it says about a model,
for machines where no TensorRT can be imported (with one, `trtdiff split` asks its parser).

The table is onnx-tensorrt's `docs/operators.md` at the TensorRT 10.0/10.1 release, corrected
where TensorRT-RTX 1.7's parser showed it wrong (scripts/build_trt_onnx_ops.py merges the
corrections and turns restriction sentences into the rules below). A node is judged unsupported
when its op is missing or marked unsupported, it lives in a custom domain, it reads or writes a
type TensorRT has no equivalent for, its first input's type is not in the op's list, or it breaks
a restriction the table states in a checkable form: an input that must be an initializer (here:
not a network input), one output only, attributes that must be all ones, absent, or one value. Other restrictions stay
text. How far this agrees with the real parser is measured by tests/trt/test_trt_op_table.py
and recorded in the table's `parser_check`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

import onnx
from onnx import TensorProto, defs, helper

from trtdiff.model import inferred_value_info

# ONNX element type -> the name operators.md uses; others keep their ONNX name (INT16, ...).
TYPE_NAMES = {
    TensorProto.FLOAT: "FP32", TensorProto.FLOAT16: "FP16", TensorProto.BFLOAT16: "BF16",
    TensorProto.INT32: "INT32", TensorProto.INT64: "INT64", TensorProto.INT8: "INT8",
    TensorProto.UINT8: "UINT8", TensorProto.BOOL: "BOOL", TensorProto.DOUBLE: "DOUBLE",
    TensorProto.FLOAT8E4M3FN: "FP8", TensorProto.INT4: "INT4",
}
Infos = Mapping[str, onnx.ValueInfoProto]


def load_op_table() -> dict[str, Any]:
    """The table: {"tensorrt_version", "source", "tensor_types", "ops": [...], "parser_check"}."""
    text = resources.files("trtdiff").joinpath("data/trt_onnx_ops.json").read_text()
    return dict(json.loads(text))


def type_name(elem_type: int) -> str:
    return TYPE_NAMES.get(elem_type) or TensorProto.DataType.Name(elem_type)


def unsupported_by_table(model: onnx.ModelProto, table: Mapping[str, Any] | None = None) -> dict[str, str]:
    """Node name -> reason, for the main-graph nodes the table says TensorRT cannot take."""
    table = table or load_op_table()
    infos = dict(inferred_value_info(model))
    infos.update({v.name: v for v in [*model.graph.input, *model.graph.output]})
    ops = {row["op"]: row for row in table["ops"]}
    network_inputs = {i.name for i in model.graph.input} - {i.name for i in model.graph.initializer}
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 1)
    reasons = {}
    for node in model.graph.node:
        reason = node_reason(node, ops.get(node.op_type), table, infos, network_inputs, opset)
        if reason:
            reasons[node.name] = reason
    return reasons


def node_reason(node: onnx.NodeProto, row: Mapping[str, Any] | None, table: Mapping[str, Any],
                infos: Infos, network_inputs: set[str], opset: int) -> str:
    """Why the table says TensorRT cannot take this node ("" when it can)."""
    version = table.get("tensorrt_version", "?")
    if node.domain not in ("", "ai.onnx"):
        return f"{node.domain}::{node.op_type} is a custom-domain op (needs a TensorRT plugin)"
    if row is None:
        return f"{node.op_type} is not in TensorRT {version}'s ONNX operator table"
    if not row["supported"]:
        return f"TensorRT {version} does not support ONNX {node.op_type}"
    for check in (_value_reason(node, table, infos), _type_reason(node, row, infos),
                  _constant_reason(node, row, network_inputs, opset), _output_reason(node, row),
                  _attribute_reason(node, row)):
        if check:
            return check
    return ""


def _tensor_types(node: onnx.NodeProto, infos: Infos) -> Iterator[tuple[str, onnx.TypeProto]]:
    for name in [*node.input, *node.output]:
        info = infos.get(name) if name else None
        if info is not None and info.type.WhichOneof("value"):
            yield name, info.type


def _value_reason(node: onnx.NodeProto, table: Mapping[str, Any], infos: Infos) -> str:
    """Sequences, optionals and types TensorRT has no equivalent for (INT16, UINT64, STRING...)."""
    known = set(table.get("tensor_types") or ())
    for name, value in _tensor_types(node, infos):
        if not value.HasField("tensor_type"):
            return f"{node.op_type} on '{name}', a {value.WhichOneof('value')} value: TensorRT takes tensors only"
        elem = value.tensor_type.elem_type
        if elem and known and type_name(elem) not in known:
            return f"{node.op_type} on '{name}' of type {type_name(elem)}: TensorRT has no such type"
    return ""


def _type_reason(node: onnx.NodeProto, row: Mapping[str, Any], infos: Infos) -> str:
    """The op's first input must have one of the types the table lists for it."""
    types = set(row.get("types") or ())
    info = infos.get(node.input[0]) if node.input and node.input[0] else None
    if not types or info is None or not info.type.HasField("tensor_type"):
        return ""
    name = type_name(info.type.tensor_type.elem_type)
    if name in types or (name == "DOUBLE" and "FP32" in types) or not info.type.tensor_type.elem_type:
        return ""
    return f"{node.op_type} on {name} input: TensorRT supports {', '.join(sorted(types))}"


def _constant_reason(node: onnx.NodeProto, row: Mapping[str, Any], network_inputs: set[str], opset: int) -> str:
    """Inputs the table says must be initializers or build-time constants, by ONNX input name:
    a network input is not (a tensor computed in the graph may be folded by the parser)."""
    wanted = row.get("constant_inputs") or ()
    if not wanted:
        return ""
    try:
        formal = [i.name for i in defs.get_schema(node.op_type, opset, "").inputs]
    except defs.SchemaError:
        return ""
    for name in wanted:
        index = formal.index(name) if name in formal else -1
        if 0 <= index < len(node.input) and node.input[index] in network_inputs:
            return f"{node.op_type}'s `{name}` input must be an initializer for TensorRT, not a network input"
    return ""


def _output_reason(node: onnx.NodeProto, row: Mapping[str, Any]) -> str:
    if row.get("single_output") and len([o for o in node.output if o]) > 1:
        return f"TensorRT supports only the first output of {node.op_type}"
    return ""


def _attribute_reason(node: onnx.NodeProto, row: Mapping[str, Any]) -> str:
    """Attributes the table restricts: all ones, left at their default, or one value."""
    values = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    for name in row.get("ones_attributes") or ():
        if any(v != 1 for v in values.get(name) or ()):
            return f"TensorRT supports {node.op_type} only with `{name}` all ones"
    for name, default in (row.get("default_attributes") or {}).items():
        value = values.get(name, default)
        if (value.decode() if isinstance(value, bytes) else value) != default:
            return f"TensorRT does not support {node.op_type}'s `{name}` other than {default!r}"
    for name, wanted in (row.get("attribute_values") or {}).items():
        if name in values and values[name] != wanted:
            return f"TensorRT supports {node.op_type} only with `{name}` = {wanted}"
    return ""


@dataclass(frozen=True)
class Agreement:
    """How the table's verdicts compare with a real parser's over a set of models."""

    cases: int
    agree: int
    differences: dict[str, dict[str, int]]  # op -> {"parser accepts": n, "parser rejects": n}
    examples: dict[str, str]  # "op / parser accepts|rejects" -> first case name (and the parser's words)

    @property
    def ratio(self) -> float:
        return self.agree / self.cases if self.cases else 1.0


def agreement(cases: Iterable[tuple[str, str, onnx.ModelProto]],
              parse: Callable[[onnx.ModelProto], tuple[bool, str]],
              table: Mapping[str, Any] | None = None) -> Agreement:
    """Table verdict (no node unsupported) against `parse(model)` -> (accepted, parser's words)
    for each (case name, op under test, model); a disagreement is counted against the op."""
    table = table or load_op_table()
    agree, count = 0, 0
    differences: dict[str, dict[str, int]] = {}
    examples: dict[str, str] = {}
    for name, op, model in cases:
        count += 1
        accepted, said = parse(model)
        if accepted == (not unsupported_by_table(model, table)):
            agree += 1
            continue
        side = "parser accepts" if accepted else "parser rejects"
        per_op = differences.setdefault(op, {})
        per_op[side] = per_op.get(side, 0) + 1
        examples.setdefault(f"{op} / {side}", f"{name}: {said[:200]}" if said else name)
    return Agreement(count, agree, differences, examples)
