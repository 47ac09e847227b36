"""Native FP16/BF16 conversion: valid models that keep every original name, built from the ONNX
schemas, robust on the fixtures (dynamic shapes, opsets 11-21, If/Loop bodies, int64 shape
plumbing, initializers listed as inputs, BatchNormalization/LayerNormalization/Softmax/Resize/
ConvTranspose/HardSigmoid/Clip with min/max inputs)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from precision_helpers import ROOT, build, feeds_for, node_names, node_outputs, run

from trtdiff.precision import PrecisionPlan, apply_plan

FP16 = TensorProto.FLOAT16


def io_types(model: onnx.ModelProto) -> list[tuple[str, int]]:
    return [(v.name, v.type.tensor_type.elem_type) for v in [*model.graph.input, *model.graph.output]]


def elem_types(model: onnx.ModelProto) -> dict[str, int]:
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    values = [*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output]
    types = {v.name: v.type.tensor_type.elem_type for v in values}
    types.update({i.name: i.data_type for i in model.graph.initializer})
    return types


def test_fixture_converts_valid_and_keeps_names(fixture_model: onnx.ModelProto) -> None:
    before = fixture_model.SerializeToString()
    applied = apply_plan(fixture_model, PrecisionPlan("fp16"))
    model = applied.model
    assert fixture_model.SerializeToString() == before, "the input model was mutated"
    onnx.checker.check_model(model, full_check=True)
    assert node_names(fixture_model.graph) <= node_names(model.graph)
    assert node_outputs(fixture_model.graph) <= node_outputs(model.graph)
    assert io_types(model) == io_types(fixture_model)
    assert applied.lowered_nodes
    feeds = feeds_for(fixture_model)
    ref, out = run(fixture_model, feeds), run(model, feeds)
    for name, value in ref.items():
        assert out[name].dtype == value.dtype
        np.testing.assert_allclose(out[name], value, rtol=0.05, atol=0.05 * (1 + np.abs(value).max()))


def test_compute_really_happens_in_fp16() -> None:
    model = apply_plan(build.convnet(), PrecisionPlan("fp16")).model
    types = elem_types(model)
    for name in ("conv1", "bn", "relu", "clip6", "hsig", "pool", "deconv", "resize", "fc"):
        assert types[name] == FP16, name
    assert types["probs"] == TensorProto.FLOAT  # graph output keeps its type, cast back
    producer = {o: n for n in model.graph.node for o in n.output}
    assert producer["probs"].op_type == "Cast" and producer["probs__fp16"].name == "probs"


def test_schema_keeps_resize_scales_roi_and_bn_stats_fp32() -> None:
    model = apply_plan(build.convnet(), PrecisionPlan("fp16")).model
    inits = {i.name: i.data_type for i in model.graph.initializer}
    assert inits["resize.scales"] == TensorProto.FLOAT  # tensor(float) in the schema
    assert inits["resize.roi"] == TensorProto.FLOAT  # T2: no output uses it: left as it comes
    assert inits["clip.min"] == FP16 and inits["clip.max"] == FP16  # shares T with the output
    assert inits["conv1.w"] == FP16 and inits["conv1.b"] == FP16
    assert inits["bn.mean"] == TensorProto.FLOAT  # BatchNormalization-15: T2 is independent of T


def test_initializers_converted_once_in_place() -> None:
    model = apply_plan(build.chain(3), PrecisionPlan("fp16")).model
    names = [i.name for i in model.graph.initializer]
    assert len(names) == len(set(names)) == 9
    assert all(i.data_type == FP16 for i in model.graph.initializer)
    casts = [n for n in model.graph.node if n.op_type == "Cast"]
    assert len(casts) == 2  # input in, output out: nothing else


def test_shape_plumbing_untouched() -> None:
    original = build.shape_plumbing()
    model = apply_plan(original, PrecisionPlan("fp16")).model
    plumbing = {"shape", "hw", "hw_float", "hw_scaled", "hw_floor", "hw_int", "nc", "sizes", "n", "flat_shape"}
    before = {n.name: n for n in original.graph.node}
    after = {n.name: n for n in model.graph.node}
    for name in plumbing:
        assert after[name] == before[name], name
    assert {i.name: i.data_type for i in model.graph.initializer}["grow"] == TensorProto.FLOAT
    feeds = {"x": np.random.default_rng(1).standard_normal((1, 2, 5, 7)).astype(np.float32)}
    assert run(model, feeds)["y"].shape == run(original, feeds)["y"].shape == (1, 2 * 7 * 10)


def test_keep_fp32_nodes_with_minimum_casts() -> None:
    applied = apply_plan(build.convnet(), PrecisionPlan("fp16", keep_fp32_nodes=("relu", "clip6")))
    model = applied.model
    assert set(applied.kept_nodes) == {"relu", "clip6"}
    assert applied.kept_reasons["relu"] == "kept by the plan"
    types = elem_types(model)
    assert types["relu"] == types["clip6"] == TensorProto.FLOAT
    casts = [n for n in model.graph.node if n.op_type == "Cast"]
    assert sorted(c.output[0] for c in casts) == ["bn__to_fp32", "clip6__to_fp16", "probs", "x__to_fp16"]
    inits = {i.name: i.data_type for i in model.graph.initializer}
    assert inits["clip.min"] == TensorProto.FLOAT  # its only reader stays FP32


def test_keep_fp32_op_type() -> None:
    applied = apply_plan(build.transformer(), PrecisionPlan("fp16", keep_fp32_ops=("Softmax", "LayerNormalization")))
    assert set(applied.kept_nodes) == {"attn", "ln"}
    types = elem_types(applied.model)
    assert types["attn"] == types["ln"] == TensorProto.FLOAT and types["qk"] == FP16


@pytest.mark.parametrize("opset", range(11, 22))
def test_every_opset(opset: int) -> None:
    original = build.opset_model(opset)
    model = apply_plan(original, PrecisionPlan("fp16")).model
    onnx.checker.check_model(model, full_check=True)
    assert model.opset_import[0].version == opset
    feeds = feeds_for(original)
    np.testing.assert_allclose(run(model, feeds)["y"], run(original, feeds)["y"], atol=2e-2)


@pytest.mark.parametrize("opset", [11, 13, 16, 17])
def test_transformer_and_control_flow_opsets(opset: int) -> None:
    for original in (build.transformer(opset), build.control_flow(opset), build.convnet(opset)):
        model = apply_plan(original, PrecisionPlan("fp16")).model
        onnx.checker.check_model(model, full_check=True)
        run(model, feeds_for(original))


def test_bodies_converted_with_their_interface_kept() -> None:
    applied = apply_plan(build.control_flow(), PrecisionPlan("fp16"))
    assert {"then_mul", "else_sub", "else_abs", "loop_mul", "loop_add"} <= set(applied.lowered_nodes)
    graph = applied.model.graph
    branch = next(n for n in graph.node if n.name == "branch")
    then_g = next(a.g for a in branch.attribute if a.name == "then_branch")
    assert then_g.node[0].input[1] == "w__fp16"  # the outer weight, converted once outside
    assert [o.type.tensor_type.elem_type for o in then_g.output] == [TensorProto.FLOAT]
    loop = next(n for n in graph.node if n.name == "loop")
    body = loop.attribute[0].g
    assert [i.type.tensor_type.elem_type for i in body.input][2] == TensorProto.FLOAT


def test_body_of_a_kept_control_node_stays_fp32() -> None:
    applied = apply_plan(build.control_flow(), PrecisionPlan("fp16", keep_fp32_nodes=("loop",)))
    assert {"loop", "loop_mul", "loop_add"} <= set(applied.kept_nodes)
    assert "then_mul" in applied.lowered_nodes
    onnx.checker.check_model(applied.model, full_check=True)
    loop = next(n for n in applied.model.graph.node if n.name == "loop")
    assert all(n.op_type != "Cast" or n.attribute[0].i == TensorProto.FLOAT for n in loop.attribute[0].g.node)


def test_initializers_listed_as_inputs_stay_overridable() -> None:
    original = build.initializers_as_inputs()
    model = apply_plan(original, PrecisionPlan("fp16")).model
    onnx.checker.check_model(model, full_check=True)
    assert io_types(model)[: len(original.graph.input)] == io_types(original)[: len(original.graph.input)]
    weights = {i.name for i in original.graph.initializer}
    assert weights <= {i.name for i in model.graph.input}  # IR 3: every initializer is an input
    assert all(i.data_type == TensorProto.FLOAT for i in model.graph.initializer if i.name in weights)
    casts = {n.input[0] for n in model.graph.node if n.op_type == "Cast"}
    assert {"w", "b"} <= casts  # a feed may replace them, so they are cast, not rewritten
    feeds = feeds_for(original)
    np.testing.assert_allclose(run(model, feeds)["y"], run(original, feeds)["y"], atol=1e-2)


def test_out_of_range_constant_kept_or_clamped() -> None:
    original = build.overflow()
    kept = apply_plan(original, PrecisionPlan("fp16"))
    assert "big_bias" in kept.kept_nodes and "bias_big" in kept.warnings[0]
    assert "big_bias" in kept.warnings[0] and "kept in FP32" in kept.warnings[0]
    clamped = apply_plan(original, PrecisionPlan("fp16", out_of_range="clamp"))
    assert "big_bias" in clamped.lowered_nodes and "clamped" in clamped.warnings[0]
    bias = next(i for i in clamped.model.graph.initializer if i.name == "bias_big")
    assert onnx.numpy_helper.to_array(bias).max() == np.float16(65504)


def test_keep_io_types_off_feeds_fp16() -> None:
    original = build.convnet()
    model = apply_plan(original, PrecisionPlan("fp16", keep_io_types=False)).model
    onnx.checker.check_model(model, full_check=True)
    assert [t for _, t in io_types(model)] == [FP16, FP16]
    out = run(model, {"x": feeds_for(original)["x"].astype(np.float16)})
    assert out["probs"].dtype == np.float16


def test_bf16_is_valid_where_the_schema_allows_it() -> None:
    applied = apply_plan(build.transformer(), PrecisionPlan("bf16"))
    onnx.checker.check_model(applied.model, full_check=True)
    assert elem_types(applied.model)["qk"] == TensorProto.BFLOAT16
    convnet = apply_plan(build.convnet(), PrecisionPlan("bf16"))
    assert convnet.kept_reasons["conv1"] == "Conv (opset 11) has no bfloat16 form"
    onnx.checker.check_model(convnet.model, full_check=True)


def test_custom_op_kept_with_reason() -> None:
    node = helper.make_node("FancyNorm", ["r"], ["n"], name="fancy", domain="com.example")
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["r"], name="relu"), node, helper.make_node("Tanh", ["n"], ["y"], name="tanh")],
        "custom", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
        value_info=[helper.make_tensor_value_info("n", TensorProto.FLOAT, [2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)])
    applied = apply_plan(model, PrecisionPlan("fp16"))
    assert applied.kept_reasons == {"fancy": "no ONNX schema for com.example::FancyNorm"}
    assert set(applied.lowered_nodes) == {"relu", "tanh"}
    fancy = next(n for n in applied.model.graph.node if n.name == "fancy")
    assert fancy.input[0] == "r__to_fp32"


def test_unnamed_nodes_are_reported_by_output() -> None:
    model = build.chain(2)
    for node in model.graph.node:
        node.name = ""
    applied = apply_plan(model, PrecisionPlan("fp16"))
    onnx.checker.check_model(applied.model, full_check=True)
    assert "MatMul(mm0)" in applied.lowered_nodes
    assert len({n.name for n in applied.model.graph.node if n.name}) == 2  # only the inserted Casts


@pytest.mark.parametrize("path", sorted((ROOT / "fixtures/precision").glob("*.onnx")), ids=lambda p: p.stem)
def test_committed_fixture_files(path) -> None:
    from trtdiff.model import load_model

    model = load_model(path)
    for plan in (PrecisionPlan("fp16"), PrecisionPlan("fp16", "emulated")):
        onnx.checker.check_model(apply_plan(model, plan).model, full_check=True)
