"""ONNX Runtime runner: the reference (FP32, CPU, graph optimisations off so tensor names stay
meaningful) and the default target for converted models."""

from __future__ import annotations

import logging
import re
import shlex
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

import numpy as np
import onnx

from trtdiff.errors import ModelError, ToolError, UsageError
from trtdiff.inputs import input_specs
from trtdiff.model import original_readers, session_source
from trtdiff.runners.base import TensorSpec

log = logging.getLogger(__name__)

PROVIDER_ALIASES = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
    "trt": "TensorrtExecutionProvider",
    "dml": "DmlExecutionProvider",
    "openvino": "OpenVINOExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
}


GRAPH_OPTIMIZATIONS = ("disabled", "basic", "extended", "all")


def resolve_providers(names: Sequence[str]) -> list[str]:
    """Map short names (cpu, cuda) to provider names and check they are available."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    resolved = []
    for name in names:
        full = PROVIDER_ALIASES.get(name.lower(), name)
        if full not in available:
            raise UsageError(f"requested provider {name}", f"this onnxruntime build offers only {available}",
                             "install onnxruntime-gpu for CUDA/TensorRT providers "
                             "(pip uninstall -y onnxruntime && pip install onnxruntime-gpu)")
        resolved.append(full)
    return resolved


class OnnxRuntimeRunner:
    """Runs an in-memory ONNX model with ONNX Runtime; `infer` returns every graph output."""

    def __init__(
        self,
        model: onnx.ModelProto,
        providers: Sequence[str] = ("CPUExecutionProvider",),
        optimize: bool | str = False,
        name: str = "onnxrt",
        session_options: Mapping[str, Any] | None = None,
    ) -> None:
        """`optimize`: ONNX Runtime graph optimisations, False/"disabled" (the reference: every
        tensor keeps its name and value), True/"all", or "basic"/"extended"; `session_options`:
        attributes of onnxruntime.SessionOptions to set, e.g. {"intra_op_num_threads": 4}."""
        self.name = name
        self._model = model
        self._providers = list(providers)
        self._optimize = {False: "disabled", True: "all"}.get(optimize, optimize)  # type: ignore[call-overload]
        if self._optimize not in GRAPH_OPTIMIZATIONS:
            raise UsageError(f"unknown graph optimization level '{optimize}'",
                             f"choose one of {', '.join(GRAPH_OPTIMIZATIONS)}", "")
        self._session_options = dict(session_options or {})
        self._session: Any = None

    def __enter__(self) -> OnnxRuntimeRunner:
        import onnxruntime as ort

        providers = resolve_providers(self._providers)
        options = ort.SessionOptions()
        options.graph_optimization_level = {
            "disabled": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
            "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
            "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
            "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
        }[self._optimize]
        options.enable_cpu_mem_arena = False  # give memory back between runs
        options.log_severity_level = 3
        # Q/DQ stay explicit at every level: ONNX Runtime would otherwise fuse them into its own
        # integer kernels, and the target is meant to show the Q/DQ model's quantization as written
        options.add_session_config_entry("session.disable_quant_qdq", "1")
        # idle worker threads sleep instead of spinning: trtdiff compares tensors (and loads its
        # comparison kernel) on the same cores while a model runs, and spinning would take their time
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        _apply_session_options(options, self._session_options)
        with session_source(self._model) as source:
            try:
                self._session = ort.InferenceSession(source, sess_options=options, providers=providers)
            except Exception as err:  # onnxruntime raises its own Fail/InvalidGraph/NotImplemented types
                raise _session_error(err, self.name, providers, self._model) from err
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._session = None

    def input_specs(self) -> list[TensorSpec]:
        return input_specs(self._model)

    def output_names(self) -> list[str]:
        return [o.name for o in self._require_session().get_outputs()]

    def infer(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        session = self._require_session()
        names = self.output_names()
        try:
            values = session.run(names, dict(feeds))
        except Exception as err:  # onnxruntime's exception classes are not importable by name
            raise ModelError(f"{self.name}: inference failed", _first_line(err),
                             "check the inputs' shapes and values; run with -v for details") from err
        return dict(zip(names, values))

    def describe(self) -> dict[str, Any]:
        import onnxruntime as ort

        return {"backend": "onnxruntime", "version": ort.__version__, "providers": self._providers,
                "graph_optimization": self._optimize}

    def _require_session(self) -> Any:
        if self._session is None:
            raise RuntimeError("OnnxRuntimeRunner used outside its 'with' block")
        return self._session


def _apply_session_options(options: Any, values: Mapping[str, Any]) -> None:
    for key, value in values.items():
        if key.startswith("_") or not hasattr(options, key):
            known = sorted(k for k in dir(options) if not k.startswith("_"))
            raise UsageError(f"unknown ONNX Runtime session option '{key}'",
                             "it is not an attribute of onnxruntime.SessionOptions",
                             f"known options include {', '.join(known[:12])}")
        try:
            setattr(options, key, value)
        except TypeError as err:
            raise UsageError(f"bad value {value!r} for session option '{key}'", str(err),
                             "check the option's type in the ONNX Runtime documentation") from err


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0][:400] if text else type(err).__name__


def _session_error(err: BaseException, name: str, providers: list[str], model: onnx.ModelProto) -> ModelError | ToolError:
    text = _first_line(err)
    if "NOT_IMPLEMENTED" in text or "Could not find an implementation" in text:
        failing = re.search(r"node with name '([^']*)'", text)
        nodes = original_readers(model, failing.group(1)) if failing and failing.group(1) else []
        keep = " ".join(f"--keep-fp32 {shlex.quote(n)}" for n in nodes) if nodes else "--keep-fp32 NODE"
        return ToolError(f"{name}: {providers[0]} cannot run this model", text,
                         f"try another provider (--providers / --target-providers), or keep the node in FP32 ({keep})")
    return ModelError(f"{name}: ONNX Runtime cannot load the model", text,
                      "check the model with onnx.checker.check_model")
