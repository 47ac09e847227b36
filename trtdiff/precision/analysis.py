"""What the precision transforms need to know about a model before changing it: the element type of
every tensor, the operator schema of every node, which tensors carry data (as opposed to shape
plumbing and constants), and the values of constants.

Element types come from ONNX shape inference run on a weight-free copy of the model (types never
depend on weight values), completed by binding each schema's type parameters where inference left
a gap (custom domains, failed inference).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from trtdiff.model import subgraphs

log = logging.getLogger(__name__)

FLOAT = TensorProto.FLOAT
TYPE_STRS = {
    "tensor(float)": TensorProto.FLOAT, "tensor(float16)": TensorProto.FLOAT16,
    "tensor(bfloat16)": TensorProto.BFLOAT16, "tensor(double)": TensorProto.DOUBLE,
    "tensor(int8)": TensorProto.INT8, "tensor(uint8)": TensorProto.UINT8,
    "tensor(int16)": TensorProto.INT16, "tensor(uint16)": TensorProto.UINT16,
    "tensor(int32)": TensorProto.INT32, "tensor(uint32)": TensorProto.UINT32,
    "tensor(int64)": TensorProto.INT64, "tensor(uint64)": TensorProto.UINT64,
    "tensor(bool)": TensorProto.BOOL, "tensor(string)": TensorProto.STRING,
    "tensor(float8e4m3fn)": TensorProto.FLOAT8E4M3FN,
}


@dataclass(frozen=True)
class Slot:
    """How one input or output of a node is typed by its schema: a type parameter ('T') or a
    fixed type ('tensor(float)'), and the types the parameter allows."""

    param: str | None  # type parameter name, None when the slot has a fixed type
    fixed: int  # the fixed element type, 0 when typed by a parameter or unknown
    allowed: frozenset[int] = frozenset()


@dataclass(frozen=True)
class OpSignature:
    inputs: tuple[Slot, ...]
    outputs: tuple[Slot, ...]
    variadic_in: bool
    variadic_out: bool
    since_version: int

    def input_slot(self, index: int) -> Slot | None:
        return _slot(self.inputs, index, self.variadic_in)

    def output_slot(self, index: int) -> Slot | None:
        return _slot(self.outputs, index, self.variadic_out)


def _slot(slots: tuple[Slot, ...], index: int, variadic: bool) -> Slot | None:
    if index < len(slots):
        return slots[index]
    return slots[-1] if variadic and slots else None


@functools.lru_cache(maxsize=4096)
def op_signature(op_type: str, domain: str, opset: int) -> OpSignature | None:
    """The typing of an operator at an opset, or None when ONNX has no schema for it."""
    try:
        schema = onnx.defs.get_schema(op_type, opset, domain)
    except onnx.defs.SchemaError:
        return None
    constraints = {c.type_param_str: frozenset(TYPE_STRS.get(t, -1) for t in c.allowed_type_strs)
                   for c in schema.type_constraints}

    def slots(formals: Sequence[onnx.defs.OpSchema.FormalParameter]) -> tuple[Slot, ...]:
        return tuple(Slot(f.type_str, 0, constraints[f.type_str]) if f.type_str in constraints
                     else Slot(None, TYPE_STRS.get(f.type_str, 0)) for f in formals)

    variadic = onnx.defs.OpSchema.FormalParameterOption.Variadic
    return OpSignature(slots(schema.inputs), slots(schema.outputs),
                       bool(schema.inputs) and schema.inputs[-1].option == variadic,
                       bool(schema.outputs) and schema.outputs[-1].option == variadic,
                       schema.since_version)


@dataclass
class ModelFacts:
    """Element types of all tensors (main graph and bodies) and the model's opsets."""

    types: dict[str, int]
    opsets: dict[str, int]
    unknown: int = 0  # float-looking tensors whose type could not be found
    const_amax: dict[str, float] = field(default_factory=dict)

    def opset(self, domain: str) -> int:
        return self.opsets.get("ai.onnx" if domain == "" else domain, self.opsets.get(domain, 0))

    def signature(self, node: onnx.NodeProto) -> OpSignature | None:
        return op_signature(node.op_type, node.domain, self.opset(node.domain) or 1)


def model_facts(model: onnx.ModelProto) -> ModelFacts:
    opsets = {imp.domain: int(imp.version) for imp in model.opset_import}
    if "" in opsets:
        opsets["ai.onnx"] = opsets[""]
    types: dict[str, int] = {}
    for vi in _inferred_value_infos(model):
        if vi.type.HasField("tensor_type") and vi.type.tensor_type.elem_type:
            types.setdefault(vi.name, int(vi.type.tensor_type.elem_type))
    facts = ModelFacts(types, opsets)
    _complete_types(model.graph, facts)
    return facts


def _inferred_value_infos(model: onnx.ModelProto) -> Iterator[onnx.ValueInfoProto]:
    light = _without_weights(model)
    try:
        inferred = onnx.shape_inference.infer_shapes(light, strict_mode=False)
    except (onnx.shape_inference.InferenceError, onnx.checker.ValidationError) as err:
        log.info("shape inference failed (%s); typing tensors from operator schemas", err)
        inferred = light
    yield from _graph_value_infos(inferred.graph)


def _graph_value_infos(graph: onnx.GraphProto) -> Iterator[onnx.ValueInfoProto]:
    yield from graph.input
    yield from graph.output
    yield from graph.value_info
    for node in graph.node:
        for sub in subgraphs(node):
            yield from _graph_value_infos(sub)


def _without_weights(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy whose initializers are typed graph inputs: types are the same, copying is cheap."""
    light = onnx.ModelProto()
    light.ir_version = max(model.ir_version, 4)
    light.opset_import.extend(model.opset_import)
    light.functions.extend(model.functions)
    graph = light.graph
    graph.name = model.graph.name
    graph.node.extend(model.graph.node)
    graph.input.extend(model.graph.input)
    graph.output.extend(model.graph.output)
    graph.value_info.extend(model.graph.value_info)
    inputs = {i.name for i in model.graph.input}
    for init in model.graph.initializer:
        if init.name not in inputs:
            graph.input.append(helper.make_tensor_value_info(init.name, init.data_type, init.dims))
    return light


def _complete_types(graph: onnx.GraphProto, facts: ModelFacts) -> None:
    """Fill gaps left by shape inference from initializers, Constant/Cast attributes and the
    operator schemas (bind each type parameter from the inputs, give it to the outputs)."""
    types = facts.types
    for init in graph.initializer:
        types.setdefault(init.name, int(init.data_type))
    for node in graph.node:
        for sub in subgraphs(node):
            _complete_types(sub, facts)
        if all(o in types for o in node.output if o):
            continue
        for index, out in enumerate(node.output):
            if out and out not in types:
                elem = _output_type(node, index, facts)
                if elem:
                    types[out] = elem
                else:
                    facts.unknown += 1


def _output_type(node: onnx.NodeProto, index: int, facts: ModelFacts) -> int:
    if node.op_type == "Cast":
        return next((int(a.i) for a in node.attribute if a.name == "to"), 0)
    if node.op_type == "Constant":
        value = constant_value(node)
        return int(value.data_type) if value is not None else 0
    sig = facts.signature(node)
    slot = sig.output_slot(index) if sig else None
    if slot is None:
        return 0
    if slot.param is None:
        return slot.fixed
    for i, name in enumerate(node.input):
        in_slot = sig.input_slot(i) if sig else None
        if name and in_slot is not None and in_slot.param == slot.param and name in facts.types:
            return facts.types[name]
    return 0


def constant_value(node: onnx.NodeProto) -> TensorProto | None:
    """The value of a Constant node as a tensor (value, value_float(s) and value_int(s) forms)."""
    for attr in node.attribute:
        if attr.name == "value":
            return attr.t
        if attr.name == "value_float":
            return numpy_helper.from_array(np.array(attr.f, dtype=np.float32))
        if attr.name == "value_floats":
            return numpy_helper.from_array(np.array(list(attr.floats), dtype=np.float32))
        if attr.name == "value_int":
            return numpy_helper.from_array(np.array(attr.i, dtype=np.int64))
        if attr.name == "value_ints":
            return numpy_helper.from_array(np.array(list(attr.ints), dtype=np.int64))
    return None


def amax(tensor: TensorProto) -> float:
    """Largest finite magnitude in a float constant (0 when empty)."""
    values = numpy_helper.to_array(tensor)
    if values.size == 0:
        return 0.0
    finite = np.abs(values[np.isfinite(values)])
    return float(finite.max()) if finite.size else 0.0
