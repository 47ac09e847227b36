"""The TensorRT runner, for both flavours (`tensorrt` 10.x/11.x and `tensorrt_rtx`): builds a
strongly typed engine from the ONNX model it is given (the precision is in the model: FP16/BF16
from the precision plan's conversion, INT8/FP8 from Q/DQ nodes) or loads a saved plan, and exposes
intermediate tensors in one of three modes:
- `unfused` (default where the module has it): `mark_unfused_tensors_as_debug_tensors()`; the
  tensors that survive fusion reach a debug listener; fusion is untouched.
- `debug`: `mark_debug` on the chosen tensors (blocks their fusion).
- `outputs`: mark them as network outputs; perturbs fusion and memory (Polygraphy's mark-all).
Engine layers map back to ONNX nodes through the engine inspector's JSON (`trtdiff.trt`).
Before deserializing, it asks the driver and the module whether the engine can run here
(`trtdiff.trt.runnable`): TensorRT-RTX builds on any CPU but runs only on some GPUs.

The engine comes from `trt_source.PlanSource` (build or load, save, runnable here?); host and
device memory from `trt_io` (CUDA through Polygraphy's `polygraphy.cuda`).

NEVER EXERCISED against a real module (no GPU that TensorRT-RTX runs on, no TensorRT 10/11
wheels within reach): everything after `PlanSource` - deserialization, execution, the debug
listener, the inspector of a deserialized engine, name mapping on a real engine.
`tests/trt/test_trt_real.py` runs them where a GPU can.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from types import ModuleType, TracebackType
from typing import Any

import numpy as np
import onnx

from trtdiff.errors import ToolError, UsageError
from trtdiff.runners import trt_io
from trtdiff.runners.base import TensorConsumer, TensorSpec
from trtdiff.runners.trt_source import PlanSource
from trtdiff.trt import dtypes, mapping
from trtdiff.trt.collect import TensorRouter
from trtdiff.trt.inspector import EngineInfo, parse_engine_info
from trtdiff.trt.options import TrtOptions

log = logging.getLogger(__name__)


class TensorRTRunner:
    """Runs an ONNX model (or a saved plan) with TensorRT and exposes intermediate tensors by
    ONNX name. A context manager satisfying `trtdiff.runners.base.Runner`; the engine comes from
    a `PlanSource` (built or loaded, saved, checked runnable here)."""

    def __init__(self, model: onnx.ModelProto | None, options: TrtOptions, name: str = "tensorrt",
                 tensors: Sequence[str] | None = None) -> None:
        self.source = PlanSource(model, options, name, tensors)
        self.model = model
        self.options = options
        self.name = name
        self.tensors = self.source.tensors
        self._node_order = [n.name for n in model.graph.node] if model is not None else []
        self._info: EngineInfo | None = None
        self._aliases: dict[str, str] | None = None

    @property
    def mode(self) -> str | None:
        return self.source.mode

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> TensorRTRunner:
        source = self.source
        source.prepare()
        source.check_runnable()
        trt = source.trt
        runtime = self._runtime = trt.Runtime(source.logger)
        if self.options.version_compatible or source.facts.get("version_compatible"):
            runtime.engine_host_code_allowed = True
        self._engine = runtime.deserialize_cuda_engine(source.plan)
        if self._engine is None:
            raise self._load_failure()
        self._context = self._engine.create_execution_context()
        if self._context is None:
            raise ToolError("TensorRT could not create an execution context",
                            "usually the GPU is out of memory", "free GPU memory or use a smaller profile")
        self._info = self._inspect(trt)
        if self.model is not None:
            self._aliases = mapping.tensor_aliases(
                self._info, self._node_order, {n.name: list(n.output) for n in self.model.graph.node})
        with trt_io.cuda_errors("setting up TensorRT inference"):
            self._setup_run(trt)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        with trt_io.cuda_errors("freeing TensorRT's GPU memory"):
            self._free()

    def _free(self) -> None:
        for buffer in getattr(self, "_device_inputs", {}).values():
            buffer.free()
        allocator = getattr(self, "_allocator", None)
        if allocator is not None:
            allocator.free()
        stream = getattr(self, "_stream", None)
        if stream is not None:
            stream.free()
        for attr in ("_context", "_engine", "_runtime", "_listener", "_allocator", "_stream"):
            if hasattr(self, attr):
                delattr(self, attr)

    def _load_failure(self) -> ToolError:
        """Deserialization returned None: advice depends on whether the engine was loaded."""
        label = self.source.features.label if self.source.features else "TensorRT"
        if self.options.load_engine is not None:
            return ToolError(f"{label} could not load the engine {self.options.load_engine}",
                             "run with -v to see its log",
                             "rebuild it with this TensorRT version (drop --load-engine)")
        return ToolError(f"{label} could not load the engine it has just built",
                         "run with -v to see its log", "check the GPU and driver with `trtdiff doctor`")

    def _inspect(self, trt: ModuleType) -> EngineInfo:
        inspector = self._engine.create_engine_inspector()
        inspector.execution_context = self._context
        info = parse_engine_info(inspector.get_engine_information(trt.LayerInformationFormat.JSON))
        if not info.detailed:
            warning = ("the engine was built without DETAILED profiling verbosity: layer "
                       "precisions, tactics and fused-away tensors are unknown")
            log.warning("%s", warning)
            self.source.warnings.append(warning)
        return info

    def _setup_run(self, trt: ModuleType) -> None:
        """Stream, output allocator, and the debug listener for the `unfused`/`debug` modes."""
        cuda = trt_io.cuda_module()
        self._stream = cuda.Stream()
        self._device_inputs: dict[str, Any] = {}
        self._allocator = trt_io.make_allocator(trt)
        names = [self._engine.get_tensor_name(i) for i in range(self._engine.num_io_tensors)]
        self._inputs = [n for n in names if self._engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        self._outputs = [n for n in names if n not in self._inputs]
        wanted = None if self.tensors is None else set(self.tensors) | set(self._outputs)
        self._router = TensorRouter(self._aliases, wanted)
        self._listener = None
        if self.mode in ("unfused", "debug") and hasattr(self._context, "set_debug_listener"):
            self._listener = trt_io.make_listener(trt, self._router)
            self._context.set_debug_listener(self._listener)
            if hasattr(self._context, "unfused_tensors_debug_state"):
                self._context.unfused_tensors_debug_state = True
            self._context.set_all_tensors_debug_state(True)

    # -- the Runner protocol ---------------------------------------------------------------

    def input_specs(self) -> list[TensorSpec]:
        """Engine inputs; a dynamic dimension is given its optimization-profile opt value."""
        specs = []
        for name in self._inputs:
            shape = tuple(int(d) for d in self._engine.get_tensor_shape(name))
            if any(d < 0 for d in shape):
                shape = tuple(int(d) for d in self._engine.get_tensor_profile_shape(name, 0)[1])
            dtype = dtypes.numpy_dtype(self._engine.get_tensor_dtype(name).name)
            specs.append(TensorSpec(name, dtype, shape))
        return specs

    def infer(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        results: dict[str, np.ndarray] = {}
        self.infer_each(feeds, results.__setitem__)
        return results

    def infer_each(self, feeds: Mapping[str, np.ndarray], consume: TensorConsumer) -> None:
        """Run once; debug tensors reach `consume` from the listener while the engine runs,
        then the network outputs."""
        self._router.start(consume)
        with trt_io.cuda_errors("running TensorRT"):
            self._bind_inputs(feeds)
            for name in self._outputs:
                self._context.set_output_allocator(name, self._allocator)
            ok = self._context.execute_async_v3(self._stream.ptr)
            self._stream.synchronize()
        self._router.raise_pending()
        if not ok:
            raise ToolError("TensorRT inference failed", "execute_async_v3 returned false",
                            "run with -v to see TensorRT's log")
        for name in self._outputs:
            if self._router.accepts(name):
                with trt_io.cuda_errors(f"copying output {name} to the host"):
                    array = self._output_to_host(name)
                self._router.deliver(name, array)
                self._router.raise_pending()

    def _bind_inputs(self, feeds: Mapping[str, np.ndarray]) -> None:
        cuda = trt_io.cuda_module()
        self._host_inputs = []  # host copies stay alive until the run ends (async copies, shape inputs)
        for name in self._inputs:
            if name not in feeds:
                raise UsageError(f"no value for TensorRT input '{name}'", "every engine input needs "
                                 "a value", f"engine inputs: {', '.join(self._inputs)}")
            expected = dtypes.numpy_dtype(self._engine.get_tensor_dtype(name).name)
            array = np.ascontiguousarray(feeds[name])
            if array.dtype != expected:
                raise UsageError(f"input '{name}' is {array.dtype}, the engine wants {expected}",
                                 "TensorRT does not convert input types", f"give {expected} data")
            if not self._context.set_input_shape(name, array.shape):
                low, opt, high = self._engine.get_tensor_profile_shape(name, 0)
                raise UsageError(f"input '{name}' shape {list(array.shape)} is outside the engine's "
                                 f"profile", f"min {list(low)}, opt {list(opt)}, max {list(high)}",
                                 "rebuild with --trt-min-shapes/--trt-max-shapes covering it")
            self._host_inputs.append(array)
            if self._engine.is_shape_inference_io(name):
                self._context.set_tensor_address(name, array.ctypes.data)
                continue
            buffer = self._device_inputs.get(name)
            if buffer is None:
                buffer = self._device_inputs[name] = cuda.DeviceArray.raw((max(array.nbytes, 1),))
            buffer.resize((max(array.nbytes, 1),))
            cuda.wrapper().memcpy(dst=buffer.ptr, src=array.ctypes.data, nbytes=array.nbytes,
                                  kind=cuda.MemcpyKind.HostToDevice, stream_ptr=self._stream.ptr)
            self._context.set_tensor_address(name, buffer.ptr)

    def _output_to_host(self, name: str) -> np.ndarray:
        shape = self._allocator.shapes.get(name)
        if shape is None:
            shape = tuple(int(d) for d in self._context.get_tensor_shape(name))
        trt_type = self._engine.get_tensor_dtype(name).name
        buffer = self._allocator.buffers[name]
        return trt_io.copy_to_host(int(buffer.ptr), trt_type, shape, self._stream.ptr, on_host=False)

    # -- facts for the report --------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        source = self.source
        trt_version = source.features.version if source.features is not None else None
        facts = dict(source.facts, version=trt_version, mode=self.mode,
                     options=self.options.describe(), warnings=list(source.warnings))
        if self._info is not None:
            inferred = sum(1 for k, v in (self._aliases or {}).items() if k != v)
            facts.update(layers=len(self._info.layers), inspector_layout=self._info.layout,
                         marked=len(self.source.marked), fused_away=len(self.fused_away()),
                         tensors_mapped_by_layer=inferred)
        router = getattr(self, "_router", None)
        if router is not None:
            facts.update(delivered=len(router.delivered), internal_tensors=len(router.internal))
        return facts

    def engine_layers(self) -> list[dict[str, Any]]:
        """Per engine layer: name, type, precision, tactic, onnx_nodes (see trt.mapping)."""
        if self._info is None:
            return []
        return mapping.engine_layer_facts(self._info, self._node_order, self._aliases)

    def fused_away(self) -> list[str]:
        """ONNX tensors asked for (or all node outputs) with no counterpart in the engine."""
        if self._info is None:
            return []
        wanted = self.tensors if self.tensors is not None else [
            o for n in (self.model.graph.node if self.model is not None else []) for o in n.output if o]
        gone = mapping.fused_away(self._info, wanted, self._aliases)
        return list(dict.fromkeys(gone + [m for m in self.source.missing if m in wanted]))
