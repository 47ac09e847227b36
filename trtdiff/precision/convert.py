"""Native FP16/BF16: the model really computes in the lower type.

Lowered nodes read and write float16 (or bfloat16) tensors under their original names; constants
they read are converted once (in place when every reader wants them lowered); Casts join the
lowered parts to the FP32 parts. With `keep_io_types`, a graph output a lowered node makes is
written as `<name>__fp16` and cast back to float32 under its own name.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

from trtdiff.precision.analysis import FLOAT
from trtdiff.precision.decide import FULL, LOW
from trtdiff.precision.graphs import cast_node
from trtdiff.precision.rewrite import Entry, GraphWalk

NUMPY_TYPES: dict[int, np.dtype] = {TensorProto.FLOAT16: np.dtype(np.float16),
               TensorProto.BFLOAT16: np.dtype(ml_dtypes.bfloat16),
               TensorProto.FLOAT8E4M3FN: np.dtype(ml_dtypes.float8_e4m3fn)}
SUFFIX: dict[int, str] = {TensorProto.FLOAT16: "fp16", TensorProto.BFLOAT16: "bf16", TensorProto.FLOAT8E4M3FN: "fp8"}
MAX_VALUE: dict[int, float] = {TensorProto.FLOAT16: 65504.0, TensorProto.FLOAT8E4M3FN: 448.0}


def to_low_array(value: TensorProto, elem: int, clamp: bool) -> np.ndarray:
    """A float constant in the lower type: clamped into range first when asked; otherwise values
    beyond the range become inf, as a real conversion makes them."""
    array = numpy_helper.to_array(value).astype(np.float32)
    limit = MAX_VALUE.get(elem)
    if limit is not None and (clamp or elem == TensorProto.FLOAT8E4M3FN):  # fp8 casts saturate
        array = np.clip(array, -limit, limit)
    with np.errstate(over="ignore"):
        return array.astype(NUMPY_TYPES[elem])


class NativeCast:
    """LOW is a float16/bfloat16 tensor."""

    def __init__(self, elem: int, keep_io_types: bool) -> None:
        self.elem = elem
        self.suffix = SUFFIX[elem]
        self.keep_io_types = keep_io_types

    def lower_output(self, walk: GraphWalk, node: onnx.NodeProto, index: int) -> None:
        name = node.output[index]
        if node.op_type == "Cast":
            for attr in node.attribute:
                if attr.name == "to":
                    attr.i = self.elem
        if walk.is_main and name in walk.outputs and self.keep_io_types:
            low = walk.fresh(f"{name}__{self.suffix}")
            node.output[index] = low
            walk.emit(cast_node(low, name, FLOAT))
            walk.scope[name] = Entry(LOW, {LOW: low, FULL: name})
            return
        walk.scope[name] = Entry(LOW, {LOW: name})
        walk.ctx.retyped[name] = self.elem

    def to_low(self, walk: GraphWalk, tensor: str, source: str) -> str:
        name = walk.fresh(f"{tensor}__to_{self.suffix}")
        walk.emit(cast_node(source, name, self.elem))
        return name

    def to_full(self, walk: GraphWalk, tensor: str, source: str) -> str:
        name = walk.fresh(f"{tensor}__to_fp32")
        walk.emit(cast_node(source, name, FLOAT))
        return name

    def constant_low(self, walk: GraphWalk, tensor: str, value: TensorProto, axis: int | None,
                     clamp: bool, in_place: bool) -> str:
        array = walk.converted((tensor, axis, clamp), lambda: to_low_array(value, self.elem, clamp))
        if in_place:
            walk.inits[tensor].CopyFrom(numpy_helper.from_array(array, tensor))
            walk.ctx.retyped[tensor] = self.elem
            return tensor
        name = walk.fresh(f"{tensor}__{self.suffix}")
        walk.add_initializer(numpy_helper.from_array(array, name))
        walk.replaced.add(tensor)
        return name

    def low_input(self, walk: GraphWalk, value_info: onnx.ValueInfoProto) -> Entry | None:
        """With keep_io_types off, float graph inputs are fed in the lower type."""
        if self.keep_io_types or value_info.type.tensor_type.elem_type != FLOAT:
            return None
        walk.ctx.retyped[value_info.name] = self.elem
        return Entry(LOW, {LOW: value_info.name})
