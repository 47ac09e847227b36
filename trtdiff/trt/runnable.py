"""Whether a built (or loaded) engine can run on this machine, and the one-line error when not.

TensorRT-RTX builds engines on a CPU, but runs them only with an NVIDIA driver and on a GPU of a
compute capability the engine was built for (not 9.0: no H100/H200). The runner asks the driver
(`trtdiff.trt.gpu`) and, where the module has it, `Runtime.get_engine_validity` before
deserializing, so the user reads why, and where the engine they can take elsewhere was saved,
instead of a CUDA error. Pure: the runner hands in what TensorRT said.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from trtdiff.errors import ToolUnavailable
from trtdiff.trt.features import RTX_DEFAULT_DESCRIPTION, Features
from trtdiff.trt.gpu import DriverStatus

# EngineInvalidityDiagnostics member -> what it means for the user
_DIAGNOSTICS = {
    "UNSUPPORTED_CC": "this GPU's compute capability is not one the engine was built for",
    "VERSION_MISMATCH": "the engine was built by another version",
    "OLD_CUDA_DRIVER": "the NVIDIA driver is too old for it",
    "OLD_CUDA_RUNTIME": "the CUDA runtime is too old for it",
    "INSUFFICIENT_GPU_MEMORY": "the GPU has too little memory for it",
    "MALFORMED_ENGINE": "the engine file is damaged",
    "CUDA_ERROR": "a CUDA error occurred while checking it",
}


class EngineNotRunnable(ToolUnavailable):
    """The engine was built (or loaded) but cannot run here; `engine_path` is where it is."""

    def __init__(self, what: str, why: str, fix: str, engine_path: Path) -> None:
        super().__init__(what, why, fix)
        self.engine_path = engine_path


def describe_targets(features: Features, compute_capabilities: Sequence[str]) -> str:
    """The GPUs an engine runs on, in words: "GPUs of compute capability 8.6, 8.9"."""
    if not features.build_targets:
        return "the kind of GPU it was built on"
    chosen = ", ".join(compute_capabilities) if compute_capabilities else RTX_DEFAULT_DESCRIPTION
    return f"GPUs of compute capability {chosen}"


def why_not_runnable(features: Features, driver: DriverStatus, validity: str | None,
                     diagnostics: Sequence[str], compute_capabilities: Sequence[str]) -> str | None:
    """The reason this machine cannot run the engine, or None when nothing says it cannot.

    `validity`/`diagnostics`: `Runtime.get_engine_validity`'s answer by member names (None where
    the module lacks it); `compute_capabilities`: what the engine was built for (() = default)."""
    if not driver.ok:
        return driver.problem
    if validity != "INVALID":
        return None
    if "UNSUPPORTED_CC" in diagnostics:
        gpus = ", ".join(driver.compute_capabilities) or "unknown"
        return (f"this GPU's compute capability ({gpus}) is not one {features.label} runs this "
                f"engine on (it runs on {describe_targets(features, compute_capabilities)})")
    said = [_DIAGNOSTICS.get(name, name.lower()) for name in diagnostics]
    return "; ".join(said) if said else f"{features.label} reports the engine invalid on this machine"


def not_runnable_error(features: Features, reason: str, engine_path: Path, loaded: bool,
                       compute_capabilities: Sequence[str]) -> EngineNotRunnable:
    """The one-line error: what was done, why it stops, where the engine is and what to do."""
    shown = os.fspath(engine_path)
    where = f"a machine with {describe_targets(features, compute_capabilities)} and an NVIDIA driver"
    if loaded:
        return EngineNotRunnable(f"{features.label} loaded the engine {shown} but cannot run it here",
                                 reason, f"It runs on {where}", engine_path)
    rerun = (f"run it on {where} with `trtdiff run MODEL --target trt --load-engine {shown}` "
             "and the same precision options")
    return EngineNotRunnable(
        f"{features.label} built the engine but cannot run it here", reason,
        f"Engine saved at {shown} (with its .trtdiff.json sidecar): {rerun}; "
        "`trtdiff build` builds without trying to run", engine_path)
