"""What building shadow models looks up: the reference's node outputs and the target's producers,
initializers and tensor types."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto

from trtdiff.model import inferred_value_info


class Unresolvable(Exception):
    """A tensor whose chain does not start at a reference tensor (internal to attribution)."""


@dataclass
class TargetIndex:
    """What shadow building looks up in the reference and target models."""

    ref_outputs: dict[str, list[str]]  # reference node name -> its output tensors
    ref_inputs: set[str]
    producer: dict[str, tuple[onnx.NodeProto, int]]  # target tensor -> (node, output index)
    inits: dict[str, TensorProto]
    target_inputs: set[str]
    types: dict[str, int]
    target: onnx.ModelProto
    ref_specs: Mapping[str, tuple[np.dtype, tuple[int, ...]]]  # dtype and shape of reference tensors held

    @classmethod
    def build(cls, reference: onnx.ModelProto, target: onnx.ModelProto,
              ref_specs: Mapping[str, tuple[np.dtype, tuple[int, ...]]]) -> TargetIndex:
        producer = {o: (n, i) for n in target.graph.node for i, o in enumerate(n.output) if o}
        inits = {i.name: i for i in target.graph.initializer}
        types = {k: int(v.type.tensor_type.elem_type) for k, v in inferred_value_info(target).items()}
        ref_inputs = {i.name for i in reference.graph.input}
        return cls({n.name: list(n.output) for n in reference.graph.node}, ref_inputs, producer, inits,
                   {i.name for i in target.graph.input} - set(inits), types, target, ref_specs)

    def matched(self, node: onnx.NodeProto) -> bool:
        return bool(node.name) and node.name in self.ref_outputs and node.op_type != "Constant"

    def stops(self, x: str, owner: str = "") -> bool:
        """Whether a walk back from a node's input ends at x: the output of an original node other
        than `owner`. Target-only nodes in between (the Cast pair that rounds it, Q/DQ) are part of
        the reader's cone: a node is fed each input as the target stores it."""
        node = self.producer[x][0] if x in self.producer else None
        return node is not None and self.matched(node) and node.name != owner

    def leaf_ref(self, x: str) -> str:
        """The reference tensor that target tensor x stands for at the edge of a cone ("" when
        it is made by a target-only node)."""
        if x in self.producer:
            node, k = self.producer[x]
            if self.matched(node):
                outs = self.ref_outputs[node.name]
                if k >= len(outs):
                    raise Unresolvable(x)
                return outs[k]
            return ""
        return x if x in self.ref_inputs else ""
