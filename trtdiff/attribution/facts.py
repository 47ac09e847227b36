"""Facts about a node's local cone: the lowest type it computes or stores in, and the activation
quantizers it holds (for the quantization hint)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

from trtdiff.attribution.index import TargetIndex, Unresolvable

LOW_TYPES: dict[int, str] = {TensorProto.FLOAT16: "fp16", TensorProto.BFLOAT16: "bf16",
             TensorProto.FLOAT8E4M3FN: "fp8", TensorProto.FLOAT8E5M2: "fp8"}
QUANT_TYPES: dict[int, str] = {TensorProto.INT8: "int8", TensorProto.UINT8: "int8",
               TensorProto.FLOAT8E4M3FN: "fp8", TensorProto.FLOAT8E5M2: "fp8"}


@dataclass(frozen=True)
class Quantizer:
    """An activation QuantizeLinear in a node's cone: which reference tensor it quantizes and
    its step (the largest scale when per channel)."""

    tensor: str
    step: float


def cone_precision(cone: list[onnx.NodeProto], index: TargetIndex) -> str:
    """The lowest type a cone computes or stores in: Q/DQ, Casts to a low type, low outputs."""
    found = set()
    for node in cone:
        if node.op_type in ("QuantizeLinear", "DequantizeLinear") and len(node.input) > 2:
            zero = index.inits.get(node.input[2])
            found.add(QUANT_TYPES.get(zero.data_type, "int8") if zero is not None else "int8")
        elif node.op_type in ("QuantizeLinear", "DequantizeLinear"):
            found.add("int8")
        if node.op_type == "Cast":
            to = next((a.i for a in node.attribute if a.name == "to"), 0)
            found.add(LOW_TYPES.get(int(to), ""))
        found.update(LOW_TYPES.get(index.types.get(o, 0), "") for o in node.output)
    for kind in ("int8", "fp8", "fp16", "bf16"):
        if kind in found:
            return kind
    return "fp32"


def cone_quantizer(node: onnx.NodeProto, index: TargetIndex) -> Quantizer | None:
    if node.op_type != "QuantizeLinear" or len(node.input) < 2 or node.input[1] not in index.inits:
        return None
    source = node.input[0]
    while not index.stops(source) and source in index.producer:
        inputs = [i for i in index.producer[source][0].input if i and i not in index.inits]
        if not inputs:
            return None
        source = inputs[0]
    try:
        reference = index.leaf_ref(source)
    except Unresolvable:
        return None
    scale = numpy_helper.to_array(index.inits[node.input[1]])
    return Quantizer(reference, float(np.max(scale))) if reference and scale.size else None
