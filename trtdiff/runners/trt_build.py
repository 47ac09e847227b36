"""Engine building for the TensorRT runner: network flags, ONNX parsing, builder config,
optimization profile, plugins, TensorRT-RTX's target compute capabilities, and the weak-typing
path kept for TensorRT < 10.12.

Every function takes the TensorRT module (`tensorrt` or `tensorrt_rtx`) as its first argument;
this module never imports it (only `trtdiff.runners.trt` does, lazily). Enum members are always
looked up by NAME, and optional API by attribute checks (`trtdiff.trt.features`).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import onnx

from trtdiff.errors import ModelError, ToolError, UsageError, close_names
from trtdiff.model import session_source
from trtdiff.trt import mapping
from trtdiff.trt.features import cc_from_member, member_name
from trtdiff.fileio import write_bytes_atomic
from trtdiff.trt.options import TrtOptions
from trtdiff.trt.profile import resolve_profile

log = logging.getLogger(__name__)

# TensorRT's own log shows with -v (errors) and -vv (the rest): a failure still ends in trtdiff's
# one line, which quotes the parser's or builder's words where TensorRT hands them over.
_LEVELS = {"INTERNAL_ERROR": logging.INFO, "ERROR": logging.INFO, "WARNING": logging.DEBUG,
           "INFO": logging.DEBUG, "VERBOSE": logging.DEBUG - 5}


def make_logger(trt: ModuleType, quiet: bool = False) -> Any:
    """A TensorRT logger that writes into Python logging (errors with -v, the rest with -vv) and
    keeps the error messages (`errors`), so that a failure can quote TensorRT's own words;
    `quiet`: everything at debug level (parser probes whose rejections are the answer)."""

    class _LogBridge(trt.ILogger):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            trt.ILogger.__init__(self)
            self.errors: list[str] = []

        def log(self, severity: Any, msg: str) -> None:
            name = getattr(severity, "name", "")
            if name in ("ERROR", "INTERNAL_ERROR"):
                self.errors.append(" ".join(str(msg).split()))
            level = logging.DEBUG if quiet else _LEVELS.get(name, logging.DEBUG)
            log.log(level, "TensorRT: %s", msg)

    return _LogBridge()


def network_flags(trt: ModuleType, options: TrtOptions) -> int:
    """Strongly typed unless weak typing was asked for (validated to TensorRT < 10.12).
    The flag is taken by NAME: its value moved from 1 to 0 in TensorRT 11 (where it is ignored)."""
    flag = getattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED", None)
    if options.weak_typing or flag is None:
        return 0
    return 1 << int(flag)


def load_plugins(trt: ModuleType, logger: Any, options: TrtOptions) -> None:
    trt.init_libnvinfer_plugins(logger, "")
    registry = trt.get_plugin_registry()
    for path in options.plugins:
        if not path.is_file():
            raise UsageError(f"plugin library not found: {path}", "--trt-plugins takes .so files",
                             "check the path")
        if registry.load_library(str(path)) is None:
            raise ToolError(f"TensorRT could not load plugin library {path}",
                            "run with -v to see TensorRT's log", "check it was built for this TensorRT")


def parse_model(parser: Any, model: onnx.ModelProto) -> None:
    """Parse the model into the network; ModelError with the parser's own words, naming the
    main-graph node it rejected (and the node inside its body, for If/Loop)."""
    with session_source(model) as source:
        ok = parser.parse_from_file(source) if isinstance(source, str) else parser.parse(source)
    if ok:
        return
    errors = [parser.get_error(i) for i in range(parser.num_errors)]
    if not errors:
        raise ModelError("TensorRT's ONNX parser rejected the model", "it gave no reason",
                         "run with -vv to see TensorRT's log")
    first = errors[0]
    names = [node.name for node in model.graph.node]
    node, index = first.node_name(), int(first.node())
    where = f"node '{node}' ({first.node_operator()})"
    if node not in names and 0 <= index < len(names):
        where = f"node '{names[index]}' ({model.graph.node[index].op_type}; in its body, {where})"
    code = getattr(first.code(), "name", str(first.code()))
    raise ModelError(f"TensorRT's ONNX parser rejected {where}", f"{code}: {first.desc()}",
                     "see onnx-tensorrt docs/operators.md for what this version supports; "
                     "`trtdiff split --target trt` cuts the model into the pieces it takes and those it does not")


def network_tensors(network: Any) -> dict[str, Any]:
    """Every layer output of the network by name (inputs are not markable)."""
    tensors = {}
    for i in range(network.num_layers):
        layer = network.get_layer(i)
        for j in range(layer.num_outputs):
            tensor = layer.get_output(j)
            if tensor is not None:
                tensors[tensor.name] = tensor
    return tensors


def _apply_weak_typing(trt: ModuleType, network: Any, config: Any, options: TrtOptions) -> None:
    """TensorRT < 10.12 only (checked by versions.check_weak_typing): builder precision flags and
    per-layer precisions, each guarded by hasattr because 11.x removed them."""
    for name in options.weak_typing:
        flag = getattr(trt.BuilderFlag, name.upper(), None)
        if flag is None:
            raise UsageError(f"this TensorRT has no {name.upper()} builder flag",
                             "weak-typing flags differ between versions", "drop --trt-weak-typing")
        config.set_flag(flag)
    if not options.layer_precisions:
        return
    types = {"fp32": "FLOAT", "fp16": "HALF", "bf16": "BF16", "int8": "INT8", "fp8": "FP8"}
    found: set[str] = set()
    for i in range(network.num_layers):
        layer = network.get_layer(i)
        sources = {layer.name, *mapping.nodes_from_metadata(getattr(layer, "metadata", None))}
        for key in sources & set(options.layer_precisions):
            layer.precision = getattr(trt.DataType, types[options.layer_precisions[key]])
            found.add(key)
    missing = sorted(set(options.layer_precisions) - found)
    if missing:
        names = [network.get_layer(i).name for i in range(network.num_layers)]
        raise UsageError(f"--trt-layer-precision names '{missing[0]}', which is no layer or node",
                         "names are TensorRT layer names or ONNX node names",
                         f"close names: {close_names(missing[0], names)}")
    constraint = getattr(trt.BuilderFlag, "OBEY_PRECISION_CONSTRAINTS", None)
    if constraint is not None:
        config.set_flag(constraint)


def _set_flag(trt: ModuleType, config: Any, name: str, on: bool = True) -> None:
    flag = getattr(trt.BuilderFlag, name, None)
    if flag is None:
        raise UsageError(f"this TensorRT has no {name} builder flag",
                         "the option needs a newer TensorRT", "drop the option or upgrade TensorRT")
    config.set_flag(flag) if on else config.clear_flag(flag)


def configure(trt: ModuleType, builder: Any, network: Any, options: TrtOptions) -> tuple[Any, Any]:
    """The builder config (and its timing cache, None unless --trt-timing-cache) from the options."""
    config = builder.create_builder_config()
    config.profiling_verbosity = trt.ProfilingVerbosity.DETAILED
    _set_flag(trt, config, "TF32", options.tf32)
    for pool, size in options.pool_limits.items():
        config.set_memory_pool_limit(getattr(trt.MemoryPoolType, pool), size)
    if options.optimization_level is not None:
        config.builder_optimization_level = options.optimization_level
    if options.hardware_compatibility:
        level = getattr(trt.HardwareCompatibilityLevel, options.hardware_compatibility.upper())
        config.hardware_compatibility_level = level
        if config.hardware_compatibility_level != level:  # TensorRT-RTX ignores it, with a warning
            raise UsageError("this TensorRT does not take --trt-hardware-compatibility",
                             "it ignored the level (TensorRT-RTX chooses GPUs by compute capability)",
                             "drop it; with TensorRT-RTX use --trt-compute-capability")
    if options.version_compatible:
        _set_flag(trt, config, "VERSION_COMPATIBLE")
        if options.plugins:
            config.plugins_to_serialize = [str(p) for p in options.plugins]
    if options.exclude_lean_runtime:
        _set_flag(trt, config, "EXCLUDE_LEAN_RUNTIME")
    set_compute_capabilities(trt, config, options.compute_capabilities)
    _add_profile(builder, network, config, options)
    cache = None
    if options.timing_cache:  # only when asked (TensorRT-RTX 1.1 needed a GPU once a cache was set)
        cached = options.timing_cache.read_bytes() if options.timing_cache.is_file() else b""
        with warnings.catch_warnings(record=True) as said:  # RTX: "Timing cache operations are no-ops"
            warnings.simplefilter("always", DeprecationWarning)
            cache = config.create_timing_cache(cached)
            config.set_timing_cache(cache, ignore_mismatch=False)
        for warning in said:
            log.warning("--trt-timing-cache: TensorRT says: %s", warning.message)
    _apply_weak_typing(trt, network, config, options)
    return config, cache


def set_compute_capabilities(trt: ModuleType, config: Any, wanted: Sequence[str]) -> None:
    """TensorRT-RTX: build for these compute capabilities ("8.6", "current"); none given keeps
    the module's default (checked against the module by Features.check_options first)."""
    if not wanted:
        return
    config.num_compute_capabilities = len(wanted)
    for index, capability in enumerate(wanted):
        if not config.set_compute_capability(getattr(trt.ComputeCapability, member_name(capability)), index):
            raise UsageError(f"TensorRT-RTX refused compute capability {capability}",
                             "run with -v to see its log", "choose another --trt-compute-capability")


def compute_capabilities(config: Any) -> tuple[str, ...]:
    """What a builder config targets, as the module reports it; () for the default or no RTX."""
    count = int(getattr(config, "num_compute_capabilities", 0) or 0)
    return tuple(cc_from_member(config.get_compute_capability(i)) for i in range(count))


def _add_profile(builder: Any, network: Any, config: Any, options: TrtOptions) -> None:
    inputs = {}
    for i in range(network.num_inputs):
        tensor = network.get_input(i)
        inputs[tensor.name] = tuple(int(d) for d in tensor.shape)
    ranges = resolve_profile(inputs, options)
    if not ranges:
        return
    profile = builder.create_optimization_profile()
    shape_inputs = {network.get_input(i).name for i in range(network.num_inputs)
                    if network.get_input(i).is_shape_tensor}
    for name, (low, opt, high) in ranges.items():
        setter = profile.set_shape_input if name in shape_inputs else profile.set_shape
        setter(name, low, opt, high)
    config.add_optimization_profile(profile)


def mark_tensors(network: Any, mode: str, wanted: Sequence[str] | None,
                 onnx_tensors: set[str]) -> tuple[list[str], list[str]]:
    """Apply the intermediate-tensor mode to the network. Returns (marked, missing): the ONNX
    tensors marked, and those asked for that the network does not have (folded by the parser)."""
    if mode == "unfused":
        network.mark_unfused_tensors_as_debug_tensors()
        return [], []
    available = network_tensors(network)
    outputs = {network.get_output(i).name for i in range(network.num_outputs)}
    names = list(wanted) if wanted is not None else [n for n in available if n in onnx_tensors]
    marked: list[str] = []
    missing: list[str] = []
    for name in names:
        tensor = available.get(name)
        if tensor is None:
            missing.append(name)
        elif name not in outputs:
            network.mark_debug(tensor) if mode == "debug" else network.mark_output(tensor)
            marked.append(name)
    if mode == "outputs" and marked:
        log.warning("marked %d tensors as TensorRT network outputs: this blocks fusions and gives "
                    "each its own memory, so the engine differs from the one you deploy; "
                    "prefer --trt-mode unfused (TensorRT 10.12+)", len(marked))
    return marked, missing


def build_plan(trt: ModuleType, logger: Any, model: onnx.ModelProto, options: TrtOptions,
               mode: str, wanted: Sequence[str] | None, onnx_tensors: set[str]) -> BuiltPlan:
    """Parse, mark, configure and build."""
    builder = trt.Builder(logger)
    network = builder.create_network(network_flags(trt, options))
    parser = trt.OnnxParser(network, logger)  # kept alive until the build: it owns the weights
    parse_model(parser, model)
    marked, missing = mark_tensors(network, mode, wanted, onnx_tensors)
    config, cache = configure(trt, builder, network, options)
    logger.errors.clear()
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        said = logger.errors[-1][:400] if logger.errors else "it gave no reason (run with -v for its log)"
        raise ToolError("TensorRT could not build the engine", said,
                        "check --trt-pool-limit, the profile shapes, the plugins and the build options "
                        "(run with -v for TensorRT's log)")
    if options.timing_cache and cache is not None:
        write_bytes_atomic(options.timing_cache, bytes(cache.serialize()))
    return BuiltPlan(bytes(serialized), tuple(marked), tuple(missing), compute_capabilities(config))


@dataclass(frozen=True)
class BuiltPlan:
    """A serialized engine and what the build did: tensors marked, tensors asked for that the
    network lacks (folded by the parser), and the compute capabilities it targets (RTX)."""

    plan: bytes
    marked: tuple[str, ...]
    missing: tuple[str, ...]
    compute_capabilities: tuple[str, ...]
