"""Shared pieces for the TensorRT tests: the tiny model the inspector samples describe, the
sample documents, and two fixtures that skip (with the reason) where a real module is missing:

- `trt_builder`: a real TensorRT module whose builder and ONNX parser run here (TensorRT-RTX on a
  CPU in CI). Tests that take it carry `@pytest.mark.trt_builder` and run in `make test`.
- `tensorrt`: the features of a TensorRT that can also RUN engines here (a driver and a GPU it
  supports). Tests that take it carry `@pytest.mark.trt`; run them on such a machine with
  `pytest -m trt tests/trt`. No machine this project can reach runs them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from trtdiff.errors import TrtDiffError
from trtdiff.trt.features import Features

DATA = Path(__file__).parent / "data"
NODE_ORDER = ["conv1", "relu1", "conv2", "sig", "swish", "gap", "flat", "fc", "softmax"]


def tiny_model(batch: int | str = "N") -> onnx.ModelProto:
    """input -> conv1 -> relu1 -> conv2 -> sig; swish = conv2_out * sig_out -> gap -> flat
    -> fc -> softmax. Node and tensor names match the samples under data/."""
    rng = np.random.default_rng(0)
    weights = [
        numpy_helper.from_array(rng.normal(size=(4, 3, 3, 3)).astype(np.float32), "w1"),
        numpy_helper.from_array(rng.normal(size=(4, 4, 1, 1)).astype(np.float32), "w2"),
        numpy_helper.from_array(rng.normal(size=(4, 3)).astype(np.float32), "wfc"),
    ]
    nodes = [
        helper.make_node("Conv", ["input", "w1"], ["conv1_out"], "conv1", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["conv1_out"], ["relu1_out"], "relu1"),
        helper.make_node("Conv", ["relu1_out", "w2"], ["conv2_out"], "conv2"),
        helper.make_node("Sigmoid", ["conv2_out"], ["sig_out"], "sig"),
        helper.make_node("Mul", ["conv2_out", "sig_out"], ["swish_out"], "swish"),
        helper.make_node("GlobalAveragePool", ["swish_out"], ["gap_out"], "gap"),
        helper.make_node("Flatten", ["gap_out"], ["flat_out"], "flat"),
        helper.make_node("Gemm", ["flat_out", "wfc"], ["fc_out"], "fc"),
        helper.make_node("Softmax", ["fc_out"], ["probs"], "softmax", axis=1),
    ]
    graph = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [batch, 3, 8, 8])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [batch, 3])],
        initializer=weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


@pytest.fixture
def model() -> onnx.ModelProto:
    return tiny_model()


@pytest.fixture
def node_order() -> list[str]:
    return list(NODE_ORDER)


@pytest.fixture
def make_model():
    """The tiny model builder, for tests that need a static batch or a fresh copy."""
    return tiny_model


@pytest.fixture
def sample_text():
    def read(name: str) -> str:
        return (DATA / name).read_text()
    return read


@pytest.fixture(scope="session")
def trt_builder() -> Features:
    """The features of the TensorRT module trtdiff would build with; skips (with the reason)
    where neither `tensorrt` nor `tensorrt_rtx` imports."""
    from trtdiff.runners.trt import tensorrt_features

    try:
        return tensorrt_features()
    except TrtDiffError as err:
        pytest.skip(f"no TensorRT builder here ({err.why}); `pip install tensorrt-rtx` gives one that "
                    "runs on a CPU")


@pytest.fixture
def tensorrt(trt_builder: Features) -> Features:
    """The features of a TensorRT that can run engines on this machine; skips with the reason
    (no driver; a GPU of a compute capability the flavour does not run) everywhere else."""
    from trtdiff.commands.doctor import check_execution
    from trtdiff.trt.gpu import driver_status

    check = check_execution(trt_builder, driver_status())
    if not check.ok:
        pytest.skip(f"{check.detail} (see the README section TensorRT support status)")
    return trt_builder


@pytest.fixture
def no_tensorrt(monkeypatch) -> None:
    """As on a machine with neither `tensorrt` nor `tensorrt_rtx`: `sys.modules[name] = None`
    makes `import name` raise ImportError."""
    import sys

    from trtdiff.trt.features import MODULES

    for name in MODULES.values():
        monkeypatch.setitem(sys.modules, name, None)
