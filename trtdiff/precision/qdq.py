"""INT8 and FP8 through QuantizeLinear/DequantizeLinear, with symmetric calibrated scales.

Native (`QDQNative`): the model TensorRT's explicit quantization consumes: a Q/DQ pair on each
activation input of Conv/ConvTranspose/Gemm/MatMul (shared by all its quantized readers) and
weights stored quantized (int8 or float8e4m3fn initializers) behind a DequantizeLinear, with one
scale per output channel when `per_channel`. Emulated (`QDQEmulation`): every lowered tensor
passes through Q/DQ under its own name (fake quantization); weights are fake-quantized at
conversion time. Scales: amax / 127 for INT8, amax / 448 for FP8 E4M3; zero points are 0.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from trtdiff.precision.decide import FULL, LOW
from trtdiff.precision.emulate import store_constant
from trtdiff.precision.rewrite import Entry, GraphWalk
from trtdiff.quiet import numpy_warnings_logged

QMAX: dict[int, float] = {TensorProto.INT8: 127.0, TensorProto.FLOAT8E4M3FN: 448.0}
SUFFIX: dict[int, str] = {TensorProto.INT8: "int8", TensorProto.FLOAT8E4M3FN: "fp8"}
NUMPY: dict[int, np.dtype] = {TensorProto.INT8: np.dtype(np.int8), TensorProto.FLOAT8E4M3FN: np.dtype(ml_dtypes.float8_e4m3fn)}


def scale_of(amax: float | np.ndarray, elem: int) -> np.ndarray:
    """Symmetric scale; a range of 0 gets scale 1 (any scale represents zeros exactly)."""
    amax = np.asarray(amax, dtype=np.float32)
    return np.where(amax > 0, amax / np.float32(QMAX[elem]), np.float32(1.0)).astype(np.float32)


def quantize(values: np.ndarray, scale: np.ndarray, elem: int) -> np.ndarray:
    """What QuantizeLinear computes: round half to even (INT8) or to nearest (FP8), saturate.
    NaN weights (whose scale is NaN too) are logged, shown with -v, rather than warned about."""
    with numpy_warnings_logged("quantizing a constant"):
        scaled = values / scale
        if elem == TensorProto.INT8:
            return np.clip(np.round(scaled), -128, 127).astype(np.int8)
        return np.clip(scaled, -448.0, 448.0).astype(ml_dtypes.float8_e4m3fn)


def weight_scale(values: np.ndarray, axis: int | None, elem: int) -> np.ndarray:
    if axis is None:
        return scale_of(float(np.abs(values).max()) if values.size else 0.0, elem)
    others = tuple(i for i in range(values.ndim) if i != axis)
    return scale_of(np.abs(values).max(axis=others) if values.size else 0.0, elem)


def _broadcast(scale: np.ndarray, axis: int | None, ndim: int) -> np.ndarray:
    if axis is None or scale.ndim == 0:
        return scale
    shape = [1] * ndim
    shape[axis] = scale.size
    return scale.reshape(shape)


class _QDQ:
    def __init__(self, elem: int, ranges: dict[str, tuple[float, float]]) -> None:
        self.elem = elem
        self.suffix = SUFFIX[elem]
        self.ranges = ranges

    def _params(self, walk: GraphWalk, tensor: str, scale: np.ndarray) -> tuple[str, str]:
        scale_name = walk.fresh(f"{tensor}__scale")
        zero_name = walk.fresh(f"{tensor}__zero_point")
        walk.add_initializer(numpy_helper.from_array(scale.astype(np.float32), scale_name))
        walk.add_initializer(numpy_helper.from_array(np.zeros(scale.shape, NUMPY[self.elem]), zero_name))
        return scale_name, zero_name

    def _pair(self, walk: GraphWalk, tensor: str, source: str, target: str) -> None:
        """Q/DQ of an activation with its calibrated per-tensor scale."""
        if tensor in self.ranges:
            low, high = self.ranges[tensor]
        else:  # an initializer that is also a graph input: its range is its value's
            values = numpy_helper.to_array(walk.constants[tensor])
            low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
        scale_name, zero_name = self._params(walk, tensor, scale_of(max(abs(low), abs(high)), self.elem))
        quantized = walk.fresh(f"{tensor}__quantized")
        walk.emit(helper.make_node("QuantizeLinear", [source, scale_name, zero_name], [quantized]))
        walk.emit(helper.make_node("DequantizeLinear", [quantized, scale_name, zero_name], [target]))

    def to_low(self, walk: GraphWalk, tensor: str, source: str) -> str:
        target = walk.fresh(f"{tensor}__dequantized")
        self._pair(walk, tensor, source, target)
        return target

    def to_full(self, walk: GraphWalk, tensor: str, source: str) -> str:
        return source  # dequantized values are float32: what a reader of the low tensor sees

    def low_input(self, walk: GraphWalk, value_info: onnx.ValueInfoProto) -> Entry | None:
        return None


class QDQEmulation(_QDQ):
    """LOW is a float32 tensor holding fake-quantized values."""

    def lower_output(self, walk: GraphWalk, node: onnx.NodeProto, index: int) -> None:
        name = node.output[index]
        raw = walk.fresh(f"{name}__fp32")
        node.output[index] = raw
        self._pair(walk, name, raw, name)
        walk.scope[name] = Entry(LOW, {LOW: name, FULL: name})

    def constant_low(self, walk: GraphWalk, tensor: str, value: TensorProto, axis: int | None,
                     clamp: bool, in_place: bool) -> str:
        def fake_quantized() -> np.ndarray:
            values = numpy_helper.to_array(value).astype(np.float32)
            scale = _broadcast(weight_scale(values, axis, self.elem), axis, values.ndim)
            with numpy_warnings_logged(f"fake-quantizing {tensor}"):
                return (quantize(values, scale, self.elem).astype(np.float32) * scale).astype(np.float32)

        fake = walk.converted((tensor, axis, clamp), fake_quantized)
        return store_constant(walk, tensor, fake, in_place, f"fakequant_{self.suffix}")


class QDQNative(_QDQ):
    """LOW is the output of a DequantizeLinear; weights are stored quantized."""

    def lower_output(self, walk: GraphWalk, node: onnx.NodeProto, index: int) -> None:
        raise AssertionError("native Q/DQ never lowers node outputs")

    def constant_low(self, walk: GraphWalk, tensor: str, value: TensorProto, axis: int | None,
                     clamp: bool, in_place: bool) -> str:
        def quantized() -> tuple[np.ndarray, np.ndarray]:
            values = numpy_helper.to_array(value).astype(np.float32)
            scale = weight_scale(values, axis, self.elem)
            return quantize(values, _broadcast(scale, axis, values.ndim), self.elem), scale

        weights, scale = walk.converted((tensor, axis, clamp), quantized)
        stored = walk.fresh(f"{tensor}__{self.suffix}")
        walk.add_initializer(numpy_helper.from_array(weights, stored))
        scale_name, zero_name = self._params(walk, tensor, scale)
        target = walk.fresh(f"{tensor}__dequantized")
        node = helper.make_node("DequantizeLinear", [stored, scale_name, zero_name], [target])
        if axis is not None:
            node.attribute.append(helper.make_attribute("axis", axis))
        walk.emit(node)
        walk.replaced.add(tensor)
        return target
