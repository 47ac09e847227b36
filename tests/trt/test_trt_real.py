"""Tests that RUN engines on a REAL TensorRT (10.x/11.x, or TensorRT-RTX on a GPU it supports). They
carry the `trt` marker and skip, with the reason, where no TensorRT can run engines: on every
machine of this project's own CI (TensorRT-RTX is installed there but has no driver; the GPUs we
can borrow are compute capability 9.0, which TensorRT-RTX does not run). Run them on such a
machine with `pytest -m trt tests/trt -v`. What runs on a CPU is in test_trt_builder.py.

Numbers from TensorRT are compared with ONNX Runtime FP32 on the same tiny FP32 model (TF32 off),
so a correct runner agrees to about 1e-4."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from trtdiff.errors import UsageError
from trtdiff.model import with_outputs
from trtdiff.runners.trt_runner import TensorRTRunner
from trtdiff.trt.features import Features
from trtdiff.trt.options import TrtOptions

pytestmark = pytest.mark.trt


def reference(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    names = [o for node in model.graph.node for o in node.output]
    marked = with_outputs(model, names)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(marked.SerializeToString(), options, ["CPUExecutionProvider"])
    return dict(zip([o.name for o in session.get_outputs()], session.run(None, feeds)))


def modes(features: Features) -> list[str]:
    return ["debug", "outputs"] + (["unfused"] if features.unfused_debug else [])


@pytest.fixture
def feeds() -> dict[str, np.ndarray]:
    return {"input": np.random.default_rng(1).uniform(-1, 1, (1, 3, 8, 8)).astype(np.float32)}


def test_each_mode_matches_onnxruntime_by_onnx_name(tensorrt, make_model, feeds):
    model = make_model(batch=1)
    ref = reference(model, feeds)
    for mode in modes(tensorrt):
        with TensorRTRunner(model, TrtOptions(mode=mode)) as runner:
            got = runner.infer(feeds)
            fused = set(runner.fused_away())
        assert "probs" in got, mode
        np.testing.assert_allclose(got["probs"], ref["probs"], rtol=1e-3, atol=1e-4)
        assert set(got) <= set(ref), f"{mode}: names that are not ONNX tensors: {set(got) - set(ref)}"
        for name, array in got.items():
            np.testing.assert_allclose(array.astype(np.float64), ref[name], rtol=1e-3, atol=1e-4,
                                       err_msg=f"{mode}: {name}")
        if mode in ("debug", "outputs"):  # every node output was marked, so nothing is missing
            assert set(ref) - set(got) - fused == set(), mode


def test_engine_layers_name_the_onnx_nodes(tensorrt, make_model, feeds):
    model = make_model(batch=1)
    with TensorRTRunner(model, TrtOptions()) as runner:
        layers = runner.engine_layers()
        facts = runner.describe()
    assert layers and facts["version"] == tensorrt.version
    assert facts["inspector_layout"] in ("10.x", "11.x")
    nodes = {n.name for n in model.graph.node}
    mapped = {n for layer in layers for n in layer["onnx_nodes"]}
    assert mapped <= nodes and "conv1" in mapped
    for layer in layers:
        assert {"name", "type", "precision", "tactic", "onnx_nodes"} <= set(layer)


def test_selected_tensors_only(tensorrt, make_model, feeds):
    with TensorRTRunner(make_model(batch=1), TrtOptions(mode="debug"), tensors=["relu1_out"]) as runner:
        got = runner.infer(feeds)
    assert set(got) == {"relu1_out", "probs"}


def test_save_then_load_engine(tensorrt, make_model, feeds, tmp_path):
    model = make_model(batch=1)
    path = tmp_path / "tiny.engine"
    with TensorRTRunner(model, TrtOptions(save_engine=path)) as runner:
        first = runner.infer(feeds)
    assert path.is_file() and path.with_name("tiny.engine.trtdiff.json").is_file()
    with TensorRTRunner(model, TrtOptions(load_engine=path)) as runner:
        second = runner.infer(feeds)
        assert runner.describe()["engine"].startswith("loaded")
    np.testing.assert_array_equal(first["probs"], second["probs"])


def test_dynamic_batch_with_profile(tensorrt, make_model):
    options = TrtOptions(min_shapes={"input": (1, 3, 8, 8)}, opt_shapes={"input": (2, 3, 8, 8)},
                         max_shapes={"input": (4, 3, 8, 8)})
    with TensorRTRunner(make_model(), options) as runner:
        (spec,) = runner.input_specs()
        assert spec.shape == (2, 3, 8, 8) and spec.dtype == np.float32
        out = runner.infer({"input": np.zeros((3, 3, 8, 8), np.float32)})
        assert out["probs"].shape == (3, 3)
        with pytest.raises(UsageError, match="outside the engine's profile"):
            runner.infer({"input": np.zeros((5, 3, 8, 8), np.float32)})


def test_consumer_errors_surface_after_the_run(tensorrt, make_model, feeds):
    def consume(name, array):
        raise RuntimeError(f"consumer refused {name}")

    with TensorRTRunner(make_model(batch=1), TrtOptions(mode="debug")) as runner:
        with pytest.raises(RuntimeError, match="consumer refused"):
            runner.infer_each(feeds, consume)
        assert "probs" in runner.infer(feeds)  # the runner is usable afterwards
