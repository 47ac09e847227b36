"""`apply_plan` on a "shadow" model, as attribution builds one: every node reads graph inputs
fed with the reference run's tensors (float and int64 alike), so its output shows the error that
node alone introduces in the target precision."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper
from precision_helpers import build, feeds_for, run

from trtdiff.precision import PrecisionPlan, apply_plan, calibrate_ranges

REF = "__ref"


def shadow_of(model: onnx.ModelProto) -> onnx.ModelProto:
    """Each main-graph node reads `<input>__ref` graph inputs; outputs keep their names."""
    inferred = onnx.shape_inference.infer_shapes(model)
    types = {v.name: v for v in [*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output]}
    inits = {i.name for i in model.graph.initializer}
    nodes, inputs, seen = [], [], set()
    for node in model.graph.node:
        copy = onnx.NodeProto()
        copy.CopyFrom(node)
        for i, name in enumerate(node.input):
            if name and name not in inits:
                copy.input[i] = name + REF
                if name not in seen:
                    seen.add(name)
                    vi = onnx.ValueInfoProto()
                    vi.CopyFrom(types[name])
                    vi.name = name + REF
                    inputs.append(vi)
        nodes.append(copy)
    outputs = [types[o] for n in model.graph.node for o in n.output if o in types]
    graph = helper.make_graph(nodes, "shadow", inputs, outputs, list(model.graph.initializer))
    shadow = helper.make_model(graph, opset_imports=model.opset_import)
    shadow.ir_version = model.ir_version
    return shadow


@pytest.mark.parametrize("name", ["convnet", "transformer", "shape_plumbing"])
@pytest.mark.parametrize("plan", [PrecisionPlan("fp16"), PrecisionPlan("fp16", "emulated"),
                                  PrecisionPlan("int8", "emulated"), PrecisionPlan("int8")],
                         ids=lambda p: p.describe())
def test_shadow_model_takes_every_plan(name: str, plan: PrecisionPlan) -> None:
    original = getattr(build, name)()
    shadow = shadow_of(original)
    onnx.checker.check_model(shadow, full_check=True)
    feeds = feeds_for(original)
    every = [o for n in original.graph.node for o in n.output]
    reference = run(original, feeds, outputs=every)
    shadow_feeds = {i.name: reference[i.name[: -len(REF)]] if i.name[: -len(REF)] in reference
                    else feeds[i.name[: -len(REF)]] for i in shadow.graph.input}
    # ranges are keyed by tensor name: measured once on the full model, they serve the shadow
    ranges = calibrate_ranges(original, [feeds])
    ranges.update({k + REF: v for k, v in ranges.items()})
    applied = apply_plan(shadow, plan, ranges=ranges)
    assert applied.lowered_nodes and not applied.kept_nodes
    onnx.checker.check_model(applied.model, full_check=True)
    out = run(applied.model, shadow_feeds)
    for tensor in every:
        if tensor in out:
            assert out[tensor].shape == reference[tensor].shape
            if reference[tensor].dtype == np.int64:  # shape plumbing is exact in every target
                np.testing.assert_array_equal(out[tensor], reference[tensor])
