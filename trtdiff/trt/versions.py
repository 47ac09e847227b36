"""What each TensorRT version can do, decided from its version string (pure, so it is tested
without TensorRT). The runner also checks the attribute itself (`hasattr`) before using it.

- 10.0: debug tensors (`mark_debug`, `IDebugListener`); weak typing still the default.
- 10.12: `mark_unfused_tensors_as_debug_tensors`; the weak-typing APIs are deprecated.
- 11.0: weak typing removed; every network is strongly typed.
"""

from __future__ import annotations

import re

from trtdiff.errors import ToolError, UsageError
from trtdiff.trt.options import TrtOptions

MIN_SUPPORTED = (10, 0)
UNFUSED_SINCE = (10, 12)
WEAK_TYPING_DEPRECATED = (10, 12)


def version_tuple(version: str) -> tuple[int, ...]:
    """`"10.12.0.36"` -> (10, 12, 0, 36); text after the numbers (`"11.0.0rc1"`) is ignored."""
    numbers = []
    for part in version.split("."):
        match = re.match(r"\d+", part)
        if not match:
            break
        numbers.append(int(match.group()))
    return tuple(numbers)


def is_supported(version: str) -> bool:
    """Whether trtdiff can drive this TensorRT version (10.x or newer)."""
    return version_tuple(version)[:2] >= MIN_SUPPORTED


def check_supported(version: str) -> None:
    if not is_supported(version):
        raise ToolError(f"TensorRT {version} is too old for trtdiff",
                        "trtdiff targets TensorRT 10.x and 11.x (execute_async_v3, debug tensors)",
                        "install TensorRT 10 or newer: pip install tensorrt")


def default_mode(version: str) -> str:
    """`unfused` where TensorRT can expose tensors without touching fusion, else `debug`."""
    return "unfused" if version_tuple(version)[:2] >= UNFUSED_SINCE else "debug"


def resolve_mode(options: TrtOptions, version: str) -> str:
    """The intermediate-tensor mode to use; UsageError if this TensorRT cannot do the one asked."""
    mode = options.mode or default_mode(version)
    if mode == "unfused" and version_tuple(version)[:2] < UNFUSED_SINCE:
        raise UsageError(f"--trt-mode unfused needs TensorRT 10.12 or newer; this is {version}",
                         "mark_unfused_tensors_as_debug_tensors arrived in 10.12",
                         "use --trt-mode debug (blocks fusion of the marked tensors) or outputs")
    return mode


def check_weak_typing(options: TrtOptions, version: str) -> None:
    """Weak-typing flags and layer precisions are offered only before TensorRT 10.12."""
    if not options.weak_typing and not options.layer_precisions:
        return
    if version_tuple(version)[:2] >= WEAK_TYPING_DEPRECATED:
        raise UsageError(f"--trt-weak-typing and --trt-layer-precision need TensorRT older than "
                         f"10.12; this is {version}",
                         "TensorRT deprecated weak typing in 10.12 and removed it in 11.0: "
                         "precision comes from the ONNX model",
                         "drop them and use the precision plan (--fp16, per-node FP32 overrides)")
