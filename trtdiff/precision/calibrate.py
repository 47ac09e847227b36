"""Tensor ranges for INT8/FP8 scales, measured with ONNX Runtime's calibrators (min-max,
percentile, entropy) on the inputs the user gives.

Ranges are keyed by tensor name, so ranges measured on a model also serve every model whose
tensors keep those names (a precision plan's transform, attribution's shadow model). Results are
cached by the model's and the feeds' content: bisect asks for the same ranges many times.

Min-max calibration builds ONNX Runtime's MinMax calibration graph itself (the same ReduceMin /
ReduceMax / Reshape nodes on the same tensors, run the same way, so the same ranges) in one pass
over the graph: ONNX Runtime's own `augment_graph` searches the graph once per tensor, which on a
model of a few hundred nodes costs several times the inference.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import warnings
from collections import OrderedDict
from collections.abc import Mapping, Sequence

import numpy as np
import onnx
from onnx import helper

from trtdiff.errors import ModelError, UsageError
from trtdiff.model import save_model, user_input_names, value_shape
from trtdiff.quiet import quiet_backends

log = logging.getLogger(__name__)

Feeds = Sequence[Mapping[str, np.ndarray]]
Ranges = dict[str, tuple[float, float]]
_CACHE: OrderedDict[str, Ranges] = OrderedDict()
_CACHE_SIZE = 8


def check_feeds(model: onnx.ModelProto, feeds: Feeds) -> None:
    """Raise a UsageError when calibration samples do not fit the model's inputs."""
    if not feeds:
        raise UsageError("INT8/FP8 needs calibration data", "no input samples were given",
                         "pass the inputs to calibrate with, or use --emulate fp16")
    wanted = {vi.name: vi for vi in model.graph.input if vi.name in set(user_input_names(model))}
    for index, feed in enumerate(feeds):
        where = f"calibration sample {index}"
        missing = sorted(set(wanted) - set(feed))
        extra = sorted(set(feed) - set(wanted))
        if missing or extra:
            raise UsageError(f"{where} does not match the model's inputs",
                             (f"missing {', '.join(missing)}" if missing else "")
                             + ("; " if missing and extra else "")
                             + (f"unknown {', '.join(extra)}" if extra else ""),
                             f"the model's inputs are: {', '.join(wanted)}")
        for name, vi in wanted.items():
            _check_array(where, name, np.asarray(feed[name]), vi)


def _check_array(where: str, name: str, array: np.ndarray, vi: onnx.ValueInfoProto) -> None:
    tensor_type = vi.type.tensor_type
    expected = helper.tensor_dtype_to_np_dtype(tensor_type.elem_type) if tensor_type.elem_type else None
    if expected is not None and array.dtype != expected:
        raise UsageError(f"{where}, input '{name}' is {array.dtype}", f"the model takes {expected}",
                         f"convert it with .astype(np.{expected})")
    dims = value_shape(vi)
    if dims is None:
        return
    fits = len(dims) == array.ndim and all(
        not isinstance(d, int) or d == s for d, s in zip(dims, array.shape))
    if not fits:
        shown = "[" + ", ".join("?" if d is None else str(d) for d in dims) + "]"
        raise UsageError(f"{where}, input '{name}' has shape {list(array.shape)}",
                         f"the model takes {shown}", "give samples of the model's input shape")


def calibrate_ranges(model: onnx.ModelProto, feeds: Feeds, method: str = "minmax",
                     percentile: float = 99.999) -> Ranges:
    """(low, high) of every float activation in the main graph over the calibration samples."""
    check_feeds(model, feeds)
    key = _fingerprint(model, feeds, method, percentile)
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return dict(_CACHE[key])
    ranges = _run_calibrator(model, feeds, method, percentile)
    _CACHE[key] = ranges
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return dict(ranges)


def _run_calibrator(model: onnx.ModelProto, feeds: Feeds, method: str, percentile: float) -> Ranges:
    """The ranges `method` measures: min-max in one pass here, the others by ONNX Runtime."""
    if method == "minmax":
        return _minmax_ranges(model, feeds)
    return _onnxruntime_calibrator(model, feeds, method, percentile)


def _onnxruntime_calibrator(model: onnx.ModelProto, feeds: Feeds, method: str, percentile: float) -> Ranges:
    from onnxruntime.quantization.calibrate import (
        CalibrationDataReader,
        CalibrationMethod,
        create_calibrator,
    )

    methods = {"minmax": CalibrationMethod.MinMax, "percentile": CalibrationMethod.Percentile,
               "entropy": CalibrationMethod.Entropy}
    options = {"percentile": percentile} if method == "percentile" else {}

    class Reader(CalibrationDataReader):  # type: ignore[misc]
        def __init__(self) -> None:
            self.samples = (_Sample({k: np.asarray(v) for k, v in feed.items()}) for feed in feeds)  # one at a time

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.samples, None)

    with tempfile.TemporaryDirectory(prefix="trtdiff-calib-") as tmp:
        path = os.path.join(tmp, "model.onnx")
        save_model(model, path)
        try:
            with quiet_backends(f"{method} calibration"):
                calibrator = create_calibrator(path, None, os.path.join(tmp, "augmented.onnx"),
                                               calibrate_method=methods[method], extra_options=options)
                calibrator.collect_data(Reader())
                data = calibrator.compute_data()
        except Exception as err:  # ONNX Runtime raises its own exception types and ValueError
            raise ModelError(f"{method} calibration failed", f"{type(err).__name__}: {err}",
                             "check that the model runs in ONNX Runtime on these inputs") from err
    ranges: Ranges = {}
    for name, tensor in data.items():
        low, high = tensor.range_value
        ranges[name] = (float(np.min(low)), float(np.max(high)))
    log.info("calibrated %d tensors (%s, %d samples)", len(ranges), method, len(feeds))
    return ranges


def _minmax_ranges(model: onnx.ModelProto, feeds: Feeds) -> Ranges:
    """ONNX Runtime's MinMaxCalibrater (not symmetric, no moving average, per tensor): per sample
    ReduceMin / ReduceMax (keepdims) of every float32/float16 tensor a node reads or writes (graph
    inputs included, initializers not), graph optimisations off; then the NaN-ignoring min / max
    over the samples."""
    import onnxruntime as ort

    augmented = onnx.shape_inference.infer_shapes(model)
    tensors = _float_activations(augmented)
    shape = f"trtdiff_calibration_shape_{len(augmented.graph.node)}"
    augmented.graph.initializer.append(onnx.numpy_helper.from_array(np.array([-1], np.int64), shape))
    outputs: list[str] = []
    for name, elem in tensors.items():
        for op in ("ReduceMin", "ReduceMax"):
            out = f"{name}_{op}"
            augmented.graph.node.extend([
                helper.make_node(op, [name], [f"{out}_Reshape"], keepdims=1, name=out),
                helper.make_node("Reshape", [f"{out}_Reshape", shape], [out], name=f"{out}_Reshape")])
            augmented.graph.output.append(helper.make_tensor_value_info(out, elem, [None]))
            outputs.append(out)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    try:
        with quiet_backends("minmax calibration"):
            session = ort.InferenceSession(augmented.SerializeToString(), options, providers=["CPUExecutionProvider"])
            runs = [session.run(outputs, {k: np.asarray(v) for k, v in feed.items()}) for feed in feeds]
    except Exception as err:  # ONNX Runtime raises its own exception types
        raise ModelError("minmax calibration failed", f"{type(err).__name__}: {err}",
                         "check that the model runs in ONNX Runtime on these inputs") from err
    ranges: Ranges = {}
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a tensor NaN on every sample keeps a NaN range
        for index, name in enumerate(tensors):
            low = np.nanmin([run[2 * index] for run in runs], axis=0)
            high = np.nanmax([run[2 * index + 1] for run in runs], axis=0)
            ranges[name] = (float(np.min(low)), float(np.max(high)))
    log.info("calibrated %d tensors (minmax, %d samples)", len(ranges), len(feeds))
    return ranges


def _float_activations(model: onnx.ModelProto) -> dict[str, int]:
    """Name -> element type of what ONNX Runtime's calibrator calibrates: float32/float16 tensors a
    main-graph node reads or writes, typed by shape inference, initializers excepted."""
    typed = {vi.name: vi for vi in model.graph.value_info}
    typed.update({vi.name: vi for vi in model.graph.output})
    typed.update({vi.name: vi for vi in model.graph.input})
    weights = {init.name for init in model.graph.initializer}
    wanted = (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16)
    found: dict[str, int] = {}
    for node in model.graph.node:
        for name in (*node.input, *node.output):
            info = typed.get(name)
            if info is None or name in weights or name in found or not info.type.HasField("tensor_type"):
                continue
            if info.type.tensor_type.elem_type in wanted:
                found[name] = info.type.tensor_type.elem_type
    return found


class _Sample(dict):  # type: ignore[type-arg]
    """One calibration sample. True even when empty (a model without inputs): ONNX Runtime's
    calibrators take a false sample for the end of the data and would collect nothing."""

    def __bool__(self) -> bool:
        return True


def _fingerprint(model: onnx.ModelProto, feeds: Feeds, method: str, percentile: float) -> str:
    digest = hashlib.blake2b(f"{method}:{percentile}".encode(), digest_size=16)
    graph = onnx.GraphProto()
    graph.node.extend(model.graph.node)
    graph.input.extend(model.graph.input)
    digest.update(graph.SerializeToString())
    for init in model.graph.initializer:
        digest.update(init.SerializeToString())
    for feed in feeds:
        for name in sorted(feed):
            array = np.ascontiguousarray(feed[name])
            digest.update(f"{name}:{array.dtype}:{array.shape}".encode())
            digest.update(array.tobytes())
    return digest.hexdigest()
