"""The ONLY module that imports TensorRT: `tensorrt` (10.x/11.x) or `tensorrt_rtx` (TensorRT for
RTX 1.x, the same strongly typed API under another name), lazily, and the questions answered
with the module alone (is it there, which features, what its ONNX parser says).

Which module: `--trt-flavor tensorrt|rtx`, by default `tensorrt` when it imports, else
`tensorrt_rtx`. What trtdiff then does is decided by the features the module has
(`trtdiff.trt.features`), never by comparing version numbers across flavours. The runner
(`trt_runner`), the builder (`trt_build`) and the parser helpers (`trt_parse`) get the module
from here.
"""

from __future__ import annotations

import importlib
from types import ModuleType

import onnx

from trtdiff.errors import ToolError, ToolUnavailable
from trtdiff.runners import trt_parse
from trtdiff.trt.features import FLAVORS, LABELS, MODULES, Features, features_of

INSTALL_HINT = ("install TensorRT 10 or 11 on a machine with an NVIDIA GPU (pip install tensorrt, "
                "NVIDIA's wheels; tensorrt-cu12 or tensorrt-cu13 for a given CUDA), or TensorRT for "
                "RTX (pip install tensorrt-rtx: builds engines on any machine, runs them on RTX-class "
                "GPUs), then check with `trtdiff doctor`")


def _import_flavor(flavor: str) -> tuple[ModuleType | None, str]:
    """(module, "") or (None, why it cannot be imported)."""
    try:
        return importlib.import_module(MODULES[flavor]), ""
    except (ImportError, OSError) as err:  # OSError: the library is found but not loadable
        return None, f"the {MODULES[flavor]} Python package cannot be imported ({err})"


def import_tensorrt(flavor: str | None = None) -> tuple[ModuleType, Features]:
    """The TensorRT module and its features: `flavor` ("tensorrt" or "rtx"), or by default
    `tensorrt` when it imports and is usable, else `tensorrt_rtx`. ToolError (exit 3) saying in
    one line what is missing and what to install."""
    problems = []
    for candidate in (flavor,) if flavor else FLAVORS:
        module, problem = _import_flavor(candidate)
        if module is None:
            problems.append(problem)
            continue
        features = features_of(module, candidate)
        try:
            features.check_usable()
        except ToolError as err:
            problems.append(err.what)
            continue
        return module, features
    wanted = LABELS[flavor] if flavor else "TensorRT"
    raise ToolUnavailable(f"{wanted} is not available", "; ".join(problems), INSTALL_HINT)


def tensorrt_available(flavor: str | None = None) -> tuple[bool, str]:
    """(True, "TensorRT-RTX 1.7.1.116") when a usable module imports, else (False, why + fix)."""
    try:
        _, features = import_tensorrt(flavor)
    except ToolError as err:
        return False, f"{err.why}; {err.fix}"
    return True, features.label


def tensorrt_features(flavor: str | None = None) -> Features:
    """The features of the module `--target trt` would use (ToolError when there is none)."""
    return import_tensorrt(flavor)[1]


def unsupported_nodes(model: onnx.ModelProto, flavor: str | None = None) -> dict[str, str]:
    """Node name -> reason, for the nodes TensorRT's ONNX parser cannot take."""
    return trt_parse.unsupported_nodes(import_tensorrt(flavor)[0], model)


def parser_accepts(model: onnx.ModelProto, flavor: str | None = None) -> tuple[bool, str]:
    """(whether TensorRT's ONNX parser parses `model`, the first error in its words)."""
    return trt_parse.parser_accepts(import_tensorrt(flavor)[0], model)


def network_tensor_types(model: onnx.ModelProto, flavor: str | None = None) -> dict[str, str]:
    """Tensor name -> type ("fp16", ...) of the strongly typed network TensorRT parses from `model`."""
    return trt_parse.network_tensor_types(import_tensorrt(flavor)[0], model)
