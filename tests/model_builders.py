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
