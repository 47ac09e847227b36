"""Stand-ins for the precision-plan API (issue 3) so the bisect core is tested on its own.

`FakePlan` has the parts of PrecisionPlan the bisect uses; `fake_apply` emulates FP16 the way the
design notes describe: a lowered node gets its float weights and inputs rounded to FP16 and its
outputs rounded to FP16 (FP32 compute in between); kept nodes run untouched. Tensor names stay.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


@dataclass(frozen=True)
class FakePlan:
    default: str = "fp16"
    keep_fp32_nodes: tuple[str, ...] = ()

    def with_fp32_nodes(self, nodes):
        return FakePlan(self.default, tuple(nodes))

    def to_dict(self):
        return {"default": self.default, "keep_fp32_nodes": list(self.keep_fp32_nodes)}


@dataclass(frozen=True)
class FakeApplied:
    model: onnx.ModelProto
    warnings: tuple[str, ...] = ()
    lowered_nodes: tuple[str, ...] = ()
    kept_nodes: tuple[str, ...] = ()
    calls: list = field(default_factory=list)


def _round_pair(name: str, tag: str) -> tuple[list[onnx.NodeProto], str]:
    half, back = f"{name}__{tag}_f16", f"{name}__{tag}_f32"
    return [helper.make_node("Cast", [name], [half], name=f"{half}_cast", to=TensorProto.FLOAT16),
            helper.make_node("Cast", [half], [back], name=f"{back}_cast", to=TensorProto.FLOAT)], back


def fake_apply(model: onnx.ModelProto, plan: FakePlan, feeds=None) -> FakeApplied:
    keep = set(plan.keep_fp32_nodes)
    weights = {w.name: w for w in model.graph.initializer}
    out = onnx.ModelProto()
    out.CopyFrom(model)
    del out.graph.node[:]
    new_weights = []
    lowered = []
    for node in model.graph.node:
        if node.name in keep or node.op_type == "Identity":
            out.graph.node.append(node)
            continue
        lowered.append(node.name)
        copy = onnx.NodeProto()
        copy.CopyFrom(node)
        for i, name in enumerate(node.input):
            if name in weights:
                with np.errstate(over="ignore"):
                    array = numpy_helper.to_array(weights[name]).astype(np.float16).astype(np.float32)
                rounded = f"{name}__{node.name}_f16"
                new_weights.append(numpy_helper.from_array(array, rounded))
                copy.input[i] = rounded
            elif name in node.input[:i]:
                copy.input[i] = copy.input[list(node.input).index(name)]
            else:
                casts, back = _round_pair(name, f"in_{node.name}")
                out.graph.node.extend(casts)
                copy.input[i] = back
        raw = [f"{o}__raw" for o in node.output]
        del copy.output[:]
        copy.output.extend(raw)
        out.graph.node.append(copy)
        for original, produced in zip(node.output, raw):
            casts, back = _round_pair(produced, "out")
            out.graph.node.extend(casts)
            out.graph.node.append(helper.make_node("Identity", [back], [original], name=f"{original}__id"))
    out.graph.initializer.extend(new_weights)
    return FakeApplied(out, lowered_nodes=tuple(lowered), kept_nodes=tuple(keep))
