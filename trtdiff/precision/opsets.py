"""The opset a precision transform works at, so that models run as they come.

- A target whose inserted nodes need a newer ai.onnx opset than the model imports (BF16 Casts
  need 13, FP8 needs 19) upgrades the model with `onnx.version_converter`, raising its IR version
  to match, and says so; only a failed upgrade is refused.
- Inserted Cast / QuantizeLinear / DequantizeLinear nodes take the model's opset. Where the
  installed ONNX Runtime has no kernel for them at that opset (ONNX Runtime 1.32 runs Q/DQ up to
  opset 27, not 28), the model is converted down to the newest opset it runs them at, and says so.
- A model that imports no ai.onnx opset (only a custom domain) is given one for the inserted
  nodes; `apply_plan` returns it unchanged when nothing is lowered.
"""

from __future__ import annotations

import functools
import logging

import onnx
from onnx import TensorProto, helper, numpy_helper

from trtdiff.errors import ModelError, UsageError

log = logging.getLogger(__name__)

ADDED_OPSET = 13  # the ai.onnx opset given to a model that imports none (per-channel Q/DQ needs 13)


def default_opset(model: onnx.ModelProto) -> int:
    """The ai.onnx opset the model imports; 0 when it imports none."""
    return next((int(o.version) for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)


def other_domains(model: onnx.ModelProto) -> list[str]:
    return sorted(o.domain for o in model.opset_import if o.domain not in ("", "ai.onnx"))


def fit_opset(model: onnx.ModelProto, name: str, needed: int, elem: int, qdq: bool) -> tuple[onnx.ModelProto, list[str]]:
    """`model` at an opset where the nodes a `name` transform inserts exist (>= `needed`) and the
    installed ONNX Runtime runs them; the input model is not changed. Returns the model to
    transform and what was done to it (warnings)."""
    current = default_opset(model)
    if current == 0:
        return _with_default_opset(model, max(needed, ADDED_OPSET)), []
    notes: list[str] = []
    if current < needed:
        model = convert_opset(model, needed, f"{name} needs opset {needed}")
        notes.append(f"the model imports ai.onnx opset {current}, where {name} cannot be expressed; it was "
                     f"upgraded to opset {needed} with onnx.version_converter (IR version {model.ir_version})")
        current = needed
    runnable = newest_runnable(current, needed, elem, qdq)
    if runnable is None:
        raise ModelError(f"ONNX Runtime cannot run the nodes {name} inserts",
                         f"it has no {_inserted(qdq)} kernel for {_type_name(elem)} at opsets {needed} to {current}",
                         "install a newer onnxruntime, or use --emulate fp16")
    if runnable < current:
        model = convert_opset(model, runnable, f"ONNX Runtime runs {_inserted(qdq)} only up to opset {runnable}")
        notes.append(f"ONNX Runtime has no {_inserted(qdq)} kernel at opset {current}; the {name} model was "
                     f"converted down to opset {runnable} with onnx.version_converter")
    return model, notes


def convert_opset(model: onnx.ModelProto, version: int, why: str) -> onnx.ModelProto:
    """The model at ai.onnx `version` (IR version raised to what that opset needs)."""
    from onnx import version_converter

    try:
        converted = version_converter.convert_version(model, version)
    except (RuntimeError, ValueError, onnx.checker.ValidationError) as err:
        raise UsageError(f"cannot convert the model from opset {default_opset(model)} to {version} ({why})",
                         f"onnx.version_converter failed: {err}",
                         f"convert it yourself to opset {version} or later, or use --emulate fp16") from err
    converted.ir_version = max(converted.ir_version, min_ir_version(converted))
    _check_same_inputs(model, converted, version, why)
    return converted


def _check_same_inputs(model: onnx.ModelProto, converted: onnx.ModelProto, version: int, why: str) -> None:
    """Refuse a conversion that changes what the model is fed (test_scan_sum: Scan 8 -> 9 drops the
    batch axis of its state input), since the user's samples would no longer fit it."""
    before = {i.name: i.type for i in model.graph.input}
    for value in converted.graph.input:
        if value.name in before and value.type != before[value.name]:
            raise UsageError(f"cannot convert the model from opset {default_opset(model)} to {version} ({why})",
                             f"onnx.version_converter changes the type or shape of input '{value.name}', so "
                             "the model's samples would not fit it",
                             f"export the model at opset {version} or later yourself, or use --emulate fp16")


def _with_default_opset(model: onnx.ModelProto, version: int) -> onnx.ModelProto:
    result = onnx.ModelProto()
    result.CopyFrom(model)
    result.opset_import.append(helper.make_opsetid("", version))
    result.ir_version = max(result.ir_version, min_ir_version(result))
    return result


def min_ir_version(model: onnx.ModelProto) -> int:
    """The lowest IR version the model's ai.onnx opset needs (custom domains add nothing)."""
    version = default_opset(model)
    return helper.find_min_ir_version_for([helper.make_opsetid("", version)]) if version else 3


def newest_runnable(opset: int, lowest: int, elem: int, qdq: bool) -> int | None:
    """The newest opset in [lowest, opset] at which ONNX Runtime runs the inserted nodes."""
    for version in range(opset, lowest - 1, -1):
        if onnxruntime_runs(version, elem, qdq):
            return version
    return None


@functools.lru_cache(maxsize=64)
def onnxruntime_runs(opset: int, elem: int, qdq: bool) -> bool:
    """Whether ONNX Runtime's CPU provider has kernels for a Cast round trip to `elem` (or a
    QuantizeLinear/DequantizeLinear pair of `elem`) at `opset`: one tiny session, cached."""
    import onnxruntime as ort
    from onnxruntime.capi import onnxruntime_pybind11_state as ort_errors

    refusals = (ort_errors.NotImplemented, ort_errors.Fail, ort_errors.InvalidGraph, ort_errors.InvalidArgument,
                ort_errors.RuntimeException)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])
    if qdq:
        zero = numpy_helper.from_array(numpy_helper.to_array(helper.make_tensor("z", elem, [], [0])), "z")
        scale = helper.make_tensor("s", TensorProto.FLOAT, [], [1.0])
        nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"]),
                 helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"])]
        inits = [scale, zero]
    else:
        nodes = [helper.make_node("Cast", ["x"], ["low"], to=elem), helper.make_node("Cast", ["low"], ["y"], to=TensorProto.FLOAT)]
        inits = []
    model = helper.make_model(helper.make_graph(nodes, "probe", [x], [y], inits),
                              opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = min_ir_version(model)
    options = ort.SessionOptions()
    options.log_severity_level = 4
    try:
        ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    except refusals as err:
        log.debug("ONNX Runtime cannot run %s at opset %d: %s", _inserted(qdq), opset, err)
        return False
    return True


def _inserted(qdq: bool) -> str:
    return "QuantizeLinear/DequantizeLinear" if qdq else "Cast"


def _type_name(elem: int) -> str:
    return helper.tensor_dtype_to_string(elem).rsplit(".", 1)[-1].lower()
