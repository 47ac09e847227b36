"""What a TensorRT module can do, read from the module itself (attribute checks), never from its
version number. Two flavours share one strongly typed API under different module names:

- `tensorrt` (TensorRT 10.x / 11.x): 10.0 brought debug tensors (`mark_debug`,
  `IDebugListener`); 10.12 brought `mark_unfused_tensors_as_debug_tensors` and deprecated the
  weak-typing builder flags; 11.0 removed them.
- `rtx` (`tensorrt_rtx`, TensorRT for RTX 1.x, version strings 1.x): the 10.12+/11 API plus
  `IBuilderConfig.set_compute_capability` with `ComputeCapability.SM75 ... SM121`; its builder
  and ONNX parser run on a CPU without a GPU ("CPU-only AOT"), engines run only on GPUs of the
  compute capabilities they were built for.

Version numbers of the two flavours are not comparable (RTX 1.7 has TensorRT 11's API), so
nothing here compares them. Pure: takes the module as an argument (only
`trtdiff.runners.trt` imports it), so it is tested with the real `tensorrt_rtx` and stand-ins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from trtdiff.errors import ToolError, UsageError
from trtdiff.trt.options import TrtOptions

FLAVORS = ("tensorrt", "rtx")
MODULES = {"tensorrt": "tensorrt", "rtx": "tensorrt_rtx"}
LABELS = {"tensorrt": "TensorRT", "rtx": "TensorRT-RTX"}
# What an RTX engine built with no compute capability set runs on: TensorRT-RTX's docs ("CPU-Only
# AOT and TensorRT-RTX Engines") and the runtime's own refusal message on a 9.0 GPU
# ("Supported compute capabilities: 8.0 8.6 8.9 12.0 12.1 >12.0").
RTX_DEFAULT_TARGETS = ("8.0", "8.6", "8.9", "12.0", "12.1")
RTX_DEFAULT_DESCRIPTION = "8.0, 8.6, 8.9, 12.0, 12.1 or newer"


def _has(module: Any, owner: str, attribute: str) -> bool:
    return hasattr(getattr(module, owner, None), attribute)


@dataclass(frozen=True)
class Features:
    """The facts about one imported TensorRT module that decide what the runner does."""

    flavor: str  # "tensorrt" or "rtx": which module was imported
    version: str
    execute_v3: bool  # IExecutionContext.execute_async_v3 (TensorRT 10+)
    debug_tensors: bool  # INetworkDefinition.mark_debug (TensorRT 10+)
    unfused_debug: bool  # INetworkDefinition.mark_unfused_tensors_as_debug_tensors (10.12+)
    weak_typing: bool  # BuilderFlag.FP16 still exists (TensorRT < 11)
    build_targets: tuple[str, ...]  # compute capabilities ComputeCapability names ("8.6"); () if none
    engine_validity: bool  # Runtime.get_engine_validity: why a plan cannot run, before loading it

    @property
    def label(self) -> str:
        """`TensorRT-RTX 1.7.1.116`, for messages and reports."""
        return f"{LABELS[self.flavor]} {self.version}"

    def check_usable(self) -> None:
        """ToolError when trtdiff cannot drive this module (TensorRT 8.x and older)."""
        if not (self.execute_v3 and self.debug_tensors):
            raise ToolError(f"{self.label} is too old for trtdiff",
                            "it lacks execute_async_v3 and debug tensors (TensorRT 10.0+)",
                            "install TensorRT 10 or newer (pip install tensorrt), or TensorRT-RTX "
                            "(pip install tensorrt-rtx)")

    def default_mode(self) -> str:
        """`unfused` where the module can expose tensors without touching fusion, else `debug`."""
        return "unfused" if self.unfused_debug else "debug"

    def resolve_mode(self, options: TrtOptions) -> str:
        """The intermediate-tensor mode to use; UsageError if this module cannot do the one asked."""
        mode = options.mode or self.default_mode()
        if mode == "unfused" and not self.unfused_debug:
            raise UsageError(f"--trt-mode unfused needs mark_unfused_tensors_as_debug_tensors, which "
                             f"{self.label} lacks", "it arrived in TensorRT 10.12",
                             "use --trt-mode debug (blocks fusion of the marked tensors) or outputs")
        return mode

    def check_options(self, options: TrtOptions) -> None:
        """UsageError for options this module cannot honour, before anything is built."""
        if (options.weak_typing or options.layer_precisions) and not self.weak_typing:
            raise UsageError(f"--trt-weak-typing and --trt-layer-precision need a TensorRT with weak "
                             f"typing (older than 10.12); {self.label} is strongly typed only",
                             "TensorRT deprecated weak typing in 10.12 and removed it in 11.0: "
                             "precision comes from the ONNX model",
                             "drop them and use the precision plan (--fp16, per-node FP32 overrides)")
        if options.compute_capabilities and not self.build_targets:
            raise UsageError(f"--trt-compute-capability needs TensorRT-RTX; {self.label} builds for "
                             "the GPU it runs on", "only TensorRT-RTX chooses target compute "
                             "capabilities at build time", "drop --trt-compute-capability")
        unknown = [cc for cc in options.compute_capabilities
                   if cc != "current" and cc not in self.build_targets]
        if unknown:
            raise UsageError(f"{self.label} cannot build for compute capability {unknown[0]}",
                             f"it builds for {', '.join(self.build_targets)} (or current)",
                             "pass one of those to --trt-compute-capability")


def _build_targets(module: Any) -> tuple[str, ...]:
    """`ComputeCapability.SM86` -> "8.6", for every SMxx member (NONE and CURRENT are not targets)."""
    members = getattr(getattr(module, "ComputeCapability", None), "__members__", {}) or {}
    targets = []
    for name in members:
        match = re.fullmatch(r"SM(\d+)(\d)", name)
        if match:
            targets.append(f"{int(match.group(1))}.{match.group(2)}")
    return tuple(sorted(targets, key=lambda cc: tuple(int(p) for p in cc.split("."))))


def features_of(module: Any, flavor: str) -> Features:
    """The features of an imported TensorRT module (the flavour says which module it is)."""
    return Features(
        flavor=flavor,
        version=str(getattr(module, "__version__", "unknown")),
        execute_v3=_has(module, "IExecutionContext", "execute_async_v3"),
        debug_tensors=_has(module, "INetworkDefinition", "mark_debug"),
        unfused_debug=_has(module, "INetworkDefinition", "mark_unfused_tensors_as_debug_tensors"),
        weak_typing=_has(module, "BuilderFlag", "FP16"),
        build_targets=_build_targets(module),
        engine_validity=_has(module, "Runtime", "get_engine_validity"),
    )


def member_name(compute_capability: str) -> str:
    """"8.6" -> "SM86", "current" -> "CURRENT" (the `ComputeCapability` member name)."""
    if compute_capability == "current":
        return "CURRENT"
    return "SM" + compute_capability.replace(".", "")


def cc_from_member(name: str) -> str:
    """`ComputeCapability.SM86` (or its name) -> "8.6"; "current" for CURRENT."""
    short = str(name).split(".")[-1]
    if short == "CURRENT":
        return "current"
    match = re.fullmatch(r"SM(\d+)(\d)", short)
    return f"{int(match.group(1))}.{match.group(2)}" if match else short.lower()
