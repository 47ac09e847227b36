"""Emulated targets: FP32 compute with lowered tensors rounded exactly as the real type would
hold them, range effects included."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import onnx
import pytest
from onnx import TensorProto
from precision_helpers import build, feeds_for, run

from trtdiff.precision import PrecisionPlan, apply_plan


def test_beyond_65504_becomes_inf_exactly_as_in_fp16() -> None:
    original = build.overflow()
    model = apply_plan(original, PrecisionPlan("fp16", "emulated", out_of_range="clamp")).model
    x = np.array([[200.0, 1.0, -300.0, 0.5], [163.0, 164.0, -0.001, 1e-9]], np.float32)
    out = run(model, {"x": x}, outputs=["amplify"])
    with np.errstate(over="ignore"):
        real = (x.astype(np.float16) * np.float16(400)).astype(np.float32)  # computed in fp16
    np.testing.assert_array_equal(out["amplify"], real)
    assert np.isinf(out["amplify"][0, 0]) and np.isinf(out["amplify"][0, 2]) and out["amplify"][0, 2] < 0
    assert np.isfinite(out["amplify"][1, 0]) and out["amplify"][1, 0] == np.float16(163 * 400)
    assert out["amplify"].dtype == np.float32


@pytest.mark.parametrize("precision, dtype", [("fp16", np.float16), ("bf16", ml_dtypes.bfloat16)])
def test_every_lowered_tensor_holds_representable_values(precision: str, dtype: type) -> None:
    original = build.transformer()
    applied = apply_plan(original, PrecisionPlan(precision, "emulated"))
    onnx.checker.check_model(applied.model, full_check=True)
    lowered = [n.output[0] for n in original.graph.node if n.name in applied.lowered_nodes]
    out = run(applied.model, feeds_for(original), outputs=lowered)
    for name in lowered:
        value = out[name]
        assert value.dtype == np.float32
        np.testing.assert_array_equal(value.astype(dtype).astype(np.float32), value, err_msg=name)


def test_fp8_saturates_like_cast_saturate() -> None:
    original = build.opset_model(19)
    applied = apply_plan(original, PrecisionPlan("fp8", "emulated"))
    onnx.checker.check_model(applied.model, full_check=True)
    feeds = feeds_for(original, scale=1000.0)
    out = run(applied.model, feeds, outputs=["conv"])["conv"]
    assert np.abs(out).max() == 448.0
    np.testing.assert_array_equal(out.astype(ml_dtypes.float8_e4m3fn).astype(np.float32), out)


def test_emulation_lowers_what_native_lowers(fixture_model: onnx.ModelProto) -> None:
    native = apply_plan(fixture_model, PrecisionPlan("fp16"))
    emulated = apply_plan(fixture_model, PrecisionPlan("fp16", "emulated"))
    assert native.lowered_nodes == emulated.lowered_nodes
    assert native.kept_nodes == emulated.kept_nodes


def test_emulated_models_are_float32_throughout(fixture_model: onnx.ModelProto) -> None:
    applied = apply_plan(fixture_model, PrecisionPlan("fp16", "emulated", keep_fp32_ops=("Tanh",)))
    model = applied.model
    onnx.checker.check_model(model, full_check=True)
    inferred = onnx.shape_inference.infer_shapes(model)
    half = {v.name for v in inferred.graph.value_info if v.type.tensor_type.elem_type == TensorProto.FLOAT16}
    casts_to_half = {n.output[0] for n in model.graph.node if n.op_type == "Cast" and n.attribute[0].i == 10}
    assert half <= casts_to_half  # float16 exists only between the two Casts of a rounding
    assert all(i.data_type != TensorProto.FLOAT16 for i in model.graph.initializer)
    feeds = feeds_for(fixture_model)
    ref, out = run(fixture_model, feeds), run(model, feeds)
    for name, value in ref.items():
        assert out[name].dtype == value.dtype and out[name].shape == value.shape


def test_weights_rounded_once() -> None:
    model = apply_plan(build.chain(2), PrecisionPlan("fp16", "emulated")).model
    for init in model.graph.initializer:
        value = onnx.numpy_helper.to_array(init)
        assert value.dtype == np.float32
        np.testing.assert_array_equal(value.astype(np.float16).astype(np.float32), value)
    assert len(model.graph.initializer) == 6  # rounded in place, no copies


@pytest.mark.parametrize("level", ["ORT_DISABLE_ALL", "ORT_ENABLE_BASIC", "ORT_ENABLE_ALL"])
def test_emulation_survives_onnxruntime_optimisations(level: str) -> None:
    """ONNX Runtime removes Cast pairs it considers redundant (even with optimisations off) and
    runs float16 ops without a CPU kernel in float32, so a *native* FP16 model on the CPU
    provider need not overflow where real FP16 does. Emulation's Cast pairs lose precision on
    purpose, which ONNX Runtime keeps: the same inf at every optimisation level."""
    import onnxruntime as ort

    model = apply_plan(build.overflow(), PrecisionPlan("fp16", "emulated", out_of_range="clamp")).model
    options = ort.SessionOptions()
    options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    (y,) = session.run(None, {"x": np.array([[200.0, 1.0, -300.0, 0.5]], np.float32)})
    assert np.isinf(y[0, 0]) and y[0, 2] == 0.0
