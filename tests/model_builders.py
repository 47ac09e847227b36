"""Tiny models built in code, shared by the top-level tests (import: from model_builders import ...)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

REPO = Path(__file__).resolve().parent.parent


def make_model(nodes: list[onnx.NodeProto], inputs: list[onnx.ValueInfoProto],
               outputs: list[onnx.ValueInfoProto], inits: list[onnx.TensorProto] | None = None,
               opset: int = 17) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "test", inputs, outputs, inits or [])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def conv_relu_model(weight: np.ndarray | None = None, batch: int | str = 1) -> onnx.ModelProto:
    """x[batch,3,8,8] -> Conv 'conv' -> Relu 'relu' -> ReduceMean 'mean' -> y."""
    if weight is None:
        weight = np.random.default_rng(0).normal(0, 0.3, (4, 3, 3, 3)).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["x", "W"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("ReduceMean", ["r"], ["y"], name="mean", keepdims=0),
    ]
    return make_model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 3, 8, 8])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [])],
                      [numpy_helper.from_array(weight.astype(np.float32), "W")])


MIXED_MODEL_TEXT = """
<ir_version: 8, opset_import: ["" : 17]>
mixed (float[2,4] x) => (float[2] y, float[2,4] z)
<float[4,4] w = {0.5, -1, 2, 0.1, 1, 1, -0.5, 0.3, 0.2, 0.7, 1.5, -1, 1, 0, 0.4, 0.9},
 int64[3] shape = {2, 2, 2}>
{
  h = MatMul(x, w)
  r = Relu(h)
  s = Reshape(r, shape)
  d = Det(s)
  y = Mul(d, d)
  z = Sigmoid(r)
}
"""


def mixed_model() -> onnx.ModelProto:
    """matmul_0 -> relu_1 -> reshape_2 -> det_3 -> mul_4 -> y, and relu_1 -> sigmoid_5 -> z: Det is
    the one op TensorRT (its table and its parser) does not take."""
    from onnx import parser

    model = parser.parse_model(MIXED_MODEL_TEXT)
    for i, node in enumerate(model.graph.node):
        node.name = f"{node.op_type.lower()}_{i}"
    onnx.checker.check_model(model)
    return model


def save(model: onnx.ModelProto, path: Path) -> str:
    onnx.save(model, path)
    return str(path)


def load_fixture_builder(relative: str) -> ModuleType:
    """Import a fixture-building script (e.g. "fixtures/precision/build.py"), which is not a package."""
    path = REPO / relative
    spec = importlib.util.spec_from_file_location(f"{path.parent.name}_fixtures", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
