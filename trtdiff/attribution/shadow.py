"""Shadow models: every selected node of the target, fed with the reference run's tensors.

A shadow model is built from the *target* model (a plan applied to the reference model, or a
user's own model), so each node computes exactly as it does in the target: same precision, same
inserted Casts and Q/DQ, same nodes kept in FP32. Nodes are matched to the reference by name.

For a selected reference tensor `t` produced by node N, the local cone is N's copy in the target
plus the target-only nodes between N and the tensor named `t` (the Cast pair that rounds an
emulated output). N's inputs come from the "reference world": the target-only nodes in front of
N (an input's Cast pair or Q/DQ), copied and fed with the reference tensor their chain starts
from, converted to the type the target holds it in. So the local output shows what N adds when
everything it receives is the reference's own value, stored as the target stores it.

Names in a shadow model: `<x>__ref` for reference-world tensors (graph inputs and copies of
target-only nodes), `<x>__local` for local-world tensors; `<t>__local` is N's local output.
Initializers keep their names. Tensors that subgraph bodies read from the outer scope get an
Identity from their reference-world copy under their own name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import TensorProto, helper

from trtdiff.attribution.facts import Quantizer, cone_precision, cone_quantizer
from trtdiff.attribution.index import TargetIndex, Unresolvable
from trtdiff.model import body_reads

REF, LOCAL, FP32 = "__ref", "__local", "__fp32ref"
LOW_FLOATS = frozenset({TensorProto.FLOAT16, TensorProto.BFLOAT16, TensorProto.FLOAT8E4M3FN, TensorProto.FLOAT8E5M2})


@dataclass(frozen=True)
class LocalOutput:
    tensor: str  # reference tensor name
    node: str  # producing node name
    shadow_name: str  # its name in the shadow model
    precision: str  # lowest type in the cone: fp32, fp16, bf16, fp8, int8
    quantizers: tuple[Quantizer, ...] = ()


@dataclass
class ShadowModel:
    model: onnx.ModelProto
    feeds: dict[str, tuple[str, np.dtype]]  # shadow input -> (reference tensor, dtype to feed)
    outputs: list[LocalOutput]
    # local output's shadow name -> the reference node's FP32 output computed on the same inputs
    # (as the target node reads them, upcast to float32): what representation alone does
    representations: dict[str, str] = field(default_factory=dict)


@dataclass
class ShadowBuilder:
    """Adds local cones one tensor at a time; `finish` makes the model."""

    index: TargetIndex
    nodes: list[onnx.NodeProto] = field(default_factory=list)
    feeds: dict[str, tuple[str, np.dtype]] = field(default_factory=dict)
    outputs: list[LocalOutput] = field(default_factory=list)
    done: set[str] = field(default_factory=set)  # node copies and outer-scope names already made
    held: set[str] = field(default_factory=set)  # reference tensors fed so far (the feeds' values)
    representations: dict[str, str] = field(default_factory=dict)  # see ShadowModel

    def add(self, tensor: str, node: str) -> LocalOutput | None:
        """Add the cone of reference tensor `tensor` (made by reference node `node`); None when the
        target has no tensor of that name made by a node of that name."""
        if tensor not in self.index.producer or not self._reaches(tensor, node):
            return None
        saved = (len(self.nodes), dict(self.feeds), set(self.done))
        try:
            name = self._local(tensor, node)
        except Unresolvable:
            del self.nodes[saved[0]:]
            self.feeds, self.done = saved[1], saved[2]
            self.held = {ref for ref, _ in self.feeds.values()}
            return None
        cone = self._cone(tensor, node)
        out = LocalOutput(tensor, node, name, cone_precision(cone, self.index),
                          tuple(q for n in cone if (q := cone_quantizer(n, self.index)) is not None))
        self.outputs.append(out)
        return out

    def add_representation(self, tensor: str, node: str, reference_node: onnx.NodeProto) -> LocalOutput | None:
        """`add`, plus `reference_node` (the FP32 original) computing `tensor` from the very inputs
        the target's node reads (its own Casts and Q/DQ in front included), upcast to float32."""
        out = self.add(tensor, node)
        copy = next((n for n in self.nodes if n.name == node + LOCAL), None)
        if out is None or copy is None or tensor not in reference_node.output:
            return out
        inputs = [self._as_float(x) for x in copy.input]
        fp32 = onnx.NodeProto()
        fp32.CopyFrom(reference_node)
        fp32.name = node + FP32
        del fp32.input[:]
        fp32.input.extend(inputs)
        del fp32.output[:]
        fp32.output.extend(o + FP32 if o else "" for o in reference_node.output)
        self.nodes.append(fp32)
        self.representations[out.shadow_name] = tensor + FP32
        return out

    def _as_float(self, name: str) -> str:
        """`name` (a tensor the target node reads in the shadow) as float32: a Cast when it is a
        lower-precision float."""
        original = name[: -len(REF)] if name.endswith(REF) else name
        init = self.index.inits.get(original)
        elem = init.data_type if init is not None else self.index.types.get(original, 0)
        if elem not in LOW_FLOATS:
            return name
        cast = f"{name}__as_fp32"
        if cast not in self.done:
            self.nodes.append(helper.make_node("Cast", [name], [cast], name=cast, to=TensorProto.FLOAT))
            self.done.add(cast)
        return cast

    def new_feeds(self, tensor: str, node: str) -> list[str]:
        """Reference tensors the cone of `tensor` would feed that this builder does not feed yet."""
        cone = self._cone(tensor, node)
        made = {o for n in cone for o in n.output}
        leaves = {self.index.leaf_ref(x) for n in cone for x in n.input
                  if x and x not in made and x not in self.index.inits}
        return sorted(x for x in leaves if x and x not in self.held)

    def finish(self) -> ShadowModel:
        target = self.index.target
        used = {x for n in self.nodes for x in n.input} | self._outer_names()
        inits = [i for name, i in self.index.inits.items() if name in used]
        inputs = [helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(dtype), self._shape(ref))
                  for name, (ref, dtype) in self.feeds.items()]
        outputs = [self._output_info(o) for o in self.outputs]
        outputs += [helper.make_tensor_value_info(name, TensorProto.FLOAT, None) for name in self.representations.values()]
        graph = helper.make_graph(self.nodes, "trtdiff_shadow", inputs, outputs, inits)
        model = helper.make_model(graph, opset_imports=list(target.opset_import))
        model.ir_version = target.ir_version
        model.functions.extend(target.functions)
        return ShadowModel(model, dict(self.feeds), list(self.outputs), dict(self.representations))

    # -- worlds ---------------------------------------------------------------------------------
    def _ref(self, x: str) -> str:
        """Reference-world name of target tensor x (fed or computed from reference tensors)."""
        if not x or x in self.index.inits:
            return x
        if x in self.index.producer:
            node, _ = self.index.producer[x]
            if self.index.matched(node):
                return self._feed(x, self.index.leaf_ref(x))
            self._copy(node, REF, self._ref)
            return x + REF
        if x in self.index.target_inputs and x in self.index.ref_inputs:
            return self._feed(x, x)
        raise Unresolvable(x)

    def _local(self, x: str, owner: str) -> str:
        """Local-world name of x: computed by `owner` from reference-world inputs."""
        node, _ = self.index.producer[x]
        if node.name == owner:
            self._copy(node, LOCAL, self._ref)
        else:
            self._copy(node, LOCAL, lambda y: self._local(y, owner) if self._inside(y, owner) else self._ref(y))
        return x + LOCAL

    def _copy(self, node: onnx.NodeProto, suffix: str, resolve: Callable[[str], str]) -> None:
        key = node.name + suffix if node.name else "|".join(node.output) + suffix
        if key in self.done:
            return
        inputs = [resolve(x) for x in node.input]
        copy = onnx.NodeProto()
        copy.CopyFrom(node)
        copy.name = key
        del copy.input[:]
        copy.input.extend(inputs)
        del copy.output[:]
        copy.output.extend(o + suffix if o else "" for o in node.output)
        for name in body_reads(node):
            if name not in self.done and name not in self.index.inits:
                self.nodes.append(helper.make_node("Identity", [self._ref(name)], [name], name=name + "__outer"))
                self.done.add(name)
        self.nodes.append(copy)
        self.done.add(key)

    def _feed(self, x: str, reference_name: str) -> str:
        if reference_name not in self.index.ref_specs:  # not held: a shape tensor --mark-all skips, a sequence
            raise Unresolvable(x)
        elem = self.index.types.get(x, 0)
        dtype = np.dtype(helper.tensor_dtype_to_np_dtype(elem) if elem else self.index.ref_specs[reference_name][0])
        self.feeds[x + REF] = (reference_name, dtype)
        self.held.add(reference_name)
        return x + REF

    # -- walking --------------------------------------------------------------------------------
    def _inside(self, x: str, owner: str) -> bool:
        """Whether x is computed by `owner` (possibly through target-only nodes)."""
        return x in self.index.producer and self._reaches(x, owner)

    def _reaches(self, x: str, owner: str) -> bool:
        seen: set[str] = set()
        stack = [x]
        while stack:
            name = stack.pop()
            if name in seen or name not in self.index.producer:
                continue
            seen.add(name)
            node, _ = self.index.producer[name]
            if node.name == owner:
                return True
            if not self.index.matched(node):
                stack.extend(i for i in node.input if i and not self.index.stops(i, owner))
        return False

    def _cone(self, tensor: str, owner: str) -> list[onnx.NodeProto]:
        """Target nodes that compute the local output: owner, target-only nodes after it, and
        target-only nodes in front of its inputs."""
        found: dict[int, onnx.NodeProto] = {}
        stack = [tensor]
        while stack:
            name = stack.pop()
            if name not in self.index.producer:
                continue
            node, _ = self.index.producer[name]
            if id(node) in found or (self.index.matched(node) and node.name != owner):
                continue
            found[id(node)] = node
            stack.extend(i for i in node.input if i and not self.index.stops(i, owner))
        return list(found.values())

    def _outer_names(self) -> set[str]:
        return {n for node in self.nodes for n in body_reads(node)}

    def _output_info(self, out: LocalOutput) -> onnx.ValueInfoProto:
        elem = self.index.types.get(out.tensor, 0)
        if elem:
            return helper.make_tensor_value_info(out.shadow_name, elem, self._shape(out.tensor))
        return helper.make_empty_tensor_value_info(out.shadow_name)

    def _shape(self, reference_name: str) -> tuple[int, ...] | None:
        spec = self.index.ref_specs.get(reference_name)
        return spec[1] if spec is not None else None
