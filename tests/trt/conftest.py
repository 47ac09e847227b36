"""Shared pieces for the TensorRT tests: the tiny model the inspector samples describe, the
sample documents, and the `tensorrt` fixture that skips (with a reason) where TensorRT is absent.

Tests that need a real TensorRT carry `@pytest.mark.trt` and take the `tensorrt` fixture; run
them on a GPU machine with `pytest -m trt tests/trt`."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

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


@pytest.fixture
def tensorrt() -> ModuleType:
    """The real tensorrt module; skips the test (with the reason) where it cannot be imported."""
    return pytest.importorskip(
        "tensorrt", reason="TensorRT is not installed here (see the README section TensorRT support status); "
                           "run `pytest -m trt tests/trt` on a machine with TensorRT 10/11 and a GPU")
