"""Emulated FP16/BF16/FP8: FP32 compute, each lowered tensor rounded to the lower type.

A lowered node writes `<name>__fp32`; a Cast to the lower type and a Cast back make `<name>`, so
the tensor under its own name holds exactly what a real float16 tensor would (values beyond 65504
become inf; FP8 casts saturate at ±448 as `Cast(saturate=1)` does). Constants are rounded once at
conversion time. Everything stays float32, so it runs on any ONNX Runtime CPU build.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

from trtdiff.precision.analysis import FLOAT
from trtdiff.precision.convert import SUFFIX, to_low_array
from trtdiff.precision.decide import FULL, LOW
from trtdiff.precision.graphs import cast_node
from trtdiff.precision.rewrite import Entry, GraphWalk


class CastEmulation:
    """LOW is a float32 tensor holding values rounded to the lower type."""

    def __init__(self, elem: int) -> None:
        self.elem = elem
        self.suffix = SUFFIX[elem]
        self.saturate = True if elem == TensorProto.FLOAT8E4M3FN else None

    def _round_trip(self, walk: GraphWalk, source: str, low: str, target: str) -> None:
        walk.emit(cast_node(source, low, self.elem, self.saturate))
        walk.emit(cast_node(low, target, FLOAT))

    def lower_output(self, walk: GraphWalk, node: onnx.NodeProto, index: int) -> None:
        name = node.output[index]
        raw = walk.fresh(f"{name}__fp32")
        node.output[index] = raw
        self._round_trip(walk, raw, walk.fresh(f"{name}__{self.suffix}"), name)
        walk.scope[name] = Entry(LOW, {LOW: name, FULL: name})

    def to_low(self, walk: GraphWalk, tensor: str, source: str) -> str:
        low = walk.fresh(f"{tensor}__{self.suffix}")
        rounded = walk.fresh(f"{tensor}__rounded_{self.suffix}")
        self._round_trip(walk, source, low, rounded)
        return rounded

    def to_full(self, walk: GraphWalk, tensor: str, source: str) -> str:
        return source  # a rounded float32 tensor is what a real upcast of the lower type gives

    def constant_low(self, walk: GraphWalk, tensor: str, value: TensorProto, axis: int | None,
                     clamp: bool, in_place: bool) -> str:
        array = walk.converted((tensor, axis, clamp),
                               lambda: to_low_array(value, self.elem, clamp).astype(np.float32))
        return store_constant(walk, tensor, array, in_place, f"rounded_{self.suffix}")

    def low_input(self, walk: GraphWalk, value_info: onnx.ValueInfoProto) -> Entry | None:
        return None


def store_constant(walk: GraphWalk, tensor: str, array: np.ndarray, in_place: bool, tag: str) -> str:
    """Write a float32 constant back in place, or as `<tensor>__<tag>` beside the original."""
    if in_place:
        walk.inits[tensor].CopyFrom(numpy_helper.from_array(array, tensor))
        return tensor
    name = walk.fresh(f"{tensor}__{tag}")
    walk.add_initializer(numpy_helper.from_array(array, name))
    walk.replaced.add(tensor)
    return name
