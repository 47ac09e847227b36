"""Tiny models and data sets for the data-set tests (import: from data_helpers import ...)."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from model_builders import make_model


def scale_model(factor: float, shape=(1, 4)) -> onnx.ModelProto:
    """x -> Mul 'scale' by `factor` -> y (a target model with another factor errs by |x| * difference)."""
    nodes = [helper.make_node("Mul", ["x", "f"], ["y"], name="scale")]
    return make_model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(shape))],
                      [numpy_helper.from_array(np.array(factor, np.float32), "f")])


def constant_samples(folder, values, shape=(1, 4)) -> str:
    """One .npz per value, every element of sample i equal to values[i]."""
    folder.mkdir(exist_ok=True)
    for i, value in enumerate(values):
        np.savez(folder / f"s{i:02d}.npz", x=np.full(shape, value, np.float32))
    return str(folder)
