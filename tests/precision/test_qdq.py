"""INT8/FP8 through Q/DQ: calibration, native placement, fake quantization, bad calibration data."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, numpy_helper
from precision_helpers import build, feeds_for, run

from trtdiff.errors import UsageError
from trtdiff.precision import PrecisionPlan, apply_plan, calibrate_ranges


def samples(model: onnx.ModelProto, count: int = 3) -> list[dict[str, np.ndarray]]:
    return [feeds_for(model, seed=i) for i in range(count)]


def producers(model: onnx.ModelProto) -> dict[str, onnx.NodeProto]:
    return {o: n for n in model.graph.node for o in n.output}


def test_native_int8_places_qdq_like_tensorrt_expects() -> None:
    original = build.convnet()
    applied = apply_plan(original, PrecisionPlan("int8"), samples(original))
    model = applied.model
    onnx.checker.check_model(model, full_check=True)
    assert set(applied.lowered_nodes) == {"conv1", "deconv", "fc"}
    made_by = producers(model)
    conv = next(n for n in model.graph.node if n.name == "conv1")
    x_dq, w_dq = made_by[conv.input[0]], made_by[conv.input[1]]
    assert x_dq.op_type == w_dq.op_type == "DequantizeLinear"
    assert made_by[x_dq.input[0]].op_type == "QuantizeLinear"
    inits = {i.name: i for i in model.graph.initializer}
    weight = inits[w_dq.input[0]]
    assert weight.data_type == TensorProto.INT8 and list(weight.dims) == [8, 3, 3, 3]
    assert dict((a.name, a.i) for a in w_dq.attribute) == {"axis": 0}
    assert list(inits[w_dq.input[1]].dims) == [8]  # one scale per output channel
    assert "conv1.w" not in inits  # the float weight is gone, replaced by the int8 one
    feeds = feeds_for(original, seed=7)
    ref, out = run(original, feeds)["probs"], run(model, feeds)["probs"]
    assert np.abs(ref - out).max() < 0.05


def test_keep_fp32_excludes_from_quantization() -> None:
    original = build.convnet()
    applied = apply_plan(original, PrecisionPlan("int8", keep_fp32_nodes=("conv1",)), samples(original))
    conv = next(n for n in applied.model.graph.node if n.name == "conv1")
    assert list(conv.input) == ["x", "conv1.w", "conv1.b"]
    assert applied.kept_nodes == ("conv1",)


def test_native_fp8_uses_float8_zero_points() -> None:
    original = build.opset_model(19)
    model = apply_plan(original, PrecisionPlan("fp8"), samples(original)).model
    onnx.checker.check_model(model, full_check=True)
    zero_points = [i for i in model.graph.initializer if i.name.endswith("__zero_point")]
    assert zero_points and all(z.data_type == TensorProto.FLOAT8E4M3FN for z in zero_points)
    run(model, feeds_for(original))


def test_emulated_int8_fake_quantizes_every_lowered_tensor() -> None:
    original = build.transformer()
    applied = apply_plan(original, PrecisionPlan("int8", "emulated"), samples(original))
    onnx.checker.check_model(applied.model, full_check=True)
    inits = {i.name: numpy_helper.to_array(i) for i in applied.model.graph.initializer}
    out = run(applied.model, feeds_for(original, seed=1), outputs=["qk", "attn"])
    for name in ("qk", "attn"):
        steps = out[name] / inits[f"{name}__scale"]
        np.testing.assert_allclose(steps, np.round(steps), atol=1e-3)
        assert np.abs(steps).max() <= 128


def test_emulated_int8_leaves_bodies_fp32_with_a_reason() -> None:
    original = build.control_flow()
    applied = apply_plan(original, PrecisionPlan("int8", "emulated"), samples(original))
    assert "inside an If/Loop/Scan body" in applied.kept_reasons["then_mul"]
    assert "scale" in applied.lowered_nodes
    onnx.checker.check_model(applied.model, full_check=True)


@pytest.mark.parametrize("method", ["minmax", "percentile", "entropy"])
def test_calibration_methods(method: str) -> None:
    original = build.convnet()
    ranges = calibrate_ranges(original, samples(original, 4), method)
    assert {"x", "conv1", "relu", "probs"} <= set(ranges)
    low, high = ranges["relu"]
    assert low <= high and high > 0
    minmax = calibrate_ranges(original, samples(original, 4), "minmax")
    assert high <= minmax["relu"][1] * 1.01


def test_ranges_given_instead_of_feeds() -> None:
    original = build.convnet()
    first = apply_plan(original, PrecisionPlan("int8"), samples(original))
    again = apply_plan(original, PrecisionPlan("int8"), ranges=first.ranges)
    assert again.model.SerializeToString() == first.model.SerializeToString()


def test_int8_without_calibration_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="needs calibration data"):
        apply_plan(build.convnet(), PrecisionPlan("int8"))


@pytest.mark.parametrize("feed, match", [
    ({"x": np.zeros((2, 3, 8), np.float32)}, r"shape \[2, 3, 8\].*\[N, 3, H, W\]"),
    ({"x": np.zeros((2, 4, 8, 8), np.float32)}, "shape"),
    ({"x": np.zeros((2, 3, 8, 8), np.float64)}, "float64"),
    ({"input": np.zeros((2, 3, 8, 8), np.float32)}, "missing x.*unknown input"),
])
def test_calibration_data_that_does_not_fit(feed, match) -> None:
    with pytest.raises(UsageError, match=match):
        apply_plan(build.convnet(), PrecisionPlan("int8"), [feed])
