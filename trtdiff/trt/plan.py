"""Engine plan files (`--save-engine`, `--load-engine`) and their sidecar.

A plan is TensorRT's serialized engine. We write it atomically, and beside it
`<engine>.trtdiff.json`: the TensorRT flavour (`tensorrt` or `rtx`) and version that built it, the
build options, the compute capabilities it targets (TensorRT-RTX), the intermediate-tensor mode and
a digest of the ONNX model it came from. When the plan is loaded again the sidecar lets us say
plainly why it cannot be used (another flavour or version, another model) instead of failing
inside deserialization, and tells the runner which mode it was built in.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onnx

from trtdiff.fileio import write_bytes_atomic
from trtdiff.errors import UsageError
from trtdiff.trt.features import LABELS

log = logging.getLogger(__name__)

SIDECAR_SUFFIX = ".trtdiff.json"
SIDECAR_VERSION = 2  # 2 added flavor and compute_capabilities; version 1 files read as flavor tensorrt


@dataclass(frozen=True)
class PlanFacts:
    """What the sidecar records about a saved engine."""

    tensorrt_version: str
    mode: str
    model_digest: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    marked: tuple[str, ...] = ()  # tensors marked as debug tensors or outputs at build time
    version_compatible: bool = False
    flavor: str = "tensorrt"  # which module built it: tensorrt or rtx (trtdiff.trt.features)
    compute_capabilities: tuple[str, ...] = ()  # TensorRT-RTX targets; (): its default set

    @property
    def label(self) -> str:
        return f"{LABELS.get(self.flavor, self.flavor)} {self.tensorrt_version}"


def sidecar_path(engine_path: str | os.PathLike[str]) -> Path:
    path = Path(engine_path)
    return path.with_name(path.name + SIDECAR_SUFFIX)


def model_digest(model: onnx.ModelProto) -> str:
    """A digest of the graph and its weights (the doc strings and metadata do not count)."""
    digest = hashlib.sha256()
    graph = onnx.GraphProto()
    graph.CopyFrom(model.graph)
    weights = list(graph.initializer)
    graph.ClearField("initializer")
    digest.update(graph.SerializeToString(deterministic=True))
    for init in weights:
        digest.update(init.name.encode())
        digest.update(str((init.data_type, tuple(init.dims))).encode())
        digest.update(init.raw_data)
        for name in ("float_data", "int32_data", "int64_data", "double_data", "uint64_data"):
            values = getattr(init, name)
            if values:
                digest.update(str(list(values)).encode())
    return digest.hexdigest()[:32]


def save_plan(plan: bytes, path: str | os.PathLike[str], facts: PlanFacts) -> None:
    """Write the engine and its sidecar, each atomically."""
    target = Path(path)
    write_bytes_atomic(target, bytes(plan))
    sidecar = {"sidecar_version": SIDECAR_VERSION, "tensorrt_version": facts.tensorrt_version,
               "mode": facts.mode, "model_digest": facts.model_digest, "options": facts.options,
               "marked": list(facts.marked), "version_compatible": facts.version_compatible,
               "flavor": facts.flavor, "compute_capabilities": list(facts.compute_capabilities)}
    write_bytes_atomic(sidecar_path(target), json.dumps(sidecar, indent=1).encode())


def read_plan(path: str | os.PathLike[str]) -> tuple[bytes, PlanFacts | None]:
    """The engine's bytes and its sidecar facts (None when there is no readable sidecar)."""
    source = Path(path)
    if not source.is_file():
        raise UsageError(f"engine file not found: {source}", "--load-engine takes a file saved "
                         "with --save-engine or trtexec --saveEngine", "check the path")
    if source.suffix.lower() == ".onnx":
        raise UsageError(f"{source} looks like an ONNX model, not a TensorRT engine",
                         "--load-engine takes a serialized engine (plan)",
                         "pass the model as the positional argument and drop --load-engine")
    data = source.read_bytes()
    if not data:
        raise UsageError(f"engine file {source} is empty", "the save was interrupted or failed",
                         "build it again with --save-engine")
    return data, read_sidecar(source)


def read_sidecar(engine_path: str | os.PathLike[str]) -> PlanFacts | None:
    path = sidecar_path(engine_path)
    if not path.is_file():
        return None
    try:
        raw = json.loads(path.read_text())
        return PlanFacts(tensorrt_version=str(raw["tensorrt_version"]), mode=str(raw["mode"]),
                         model_digest=raw.get("model_digest"), options=dict(raw.get("options") or {}),
                         marked=tuple(raw.get("marked") or ()),
                         version_compatible=bool(raw.get("version_compatible")),
                         flavor=str(raw.get("flavor") or "tensorrt"),
                         compute_capabilities=tuple(str(c) for c in raw.get("compute_capabilities") or ()))
    except (OSError, ValueError, KeyError, TypeError) as err:
        log.warning("ignoring unreadable engine sidecar %s: %s", path, err)
        return None


def check_plan(facts: PlanFacts | None, flavor: str, trt_version: str, digest: str | None,
               engine_path: str | os.PathLike[str]) -> list[str]:
    """Refuse a plan built by another flavour, or another version (unless version-compatible);
    warn, in the returned list, when it was built from another model or nothing is known of it."""
    if facts is None:
        return [f"{engine_path} has no {SIDECAR_SUFFIX} sidecar: trtdiff cannot check which model "
                "and TensorRT version built it, nor which intermediate tensors it exposes"]
    here = f"{LABELS.get(flavor, flavor)} {trt_version}"
    if facts.flavor != flavor:
        raise UsageError(f"{engine_path} was built by {facts.label}, this is {here}",
                         "TensorRT and TensorRT-RTX engines are not interchangeable",
                         f"pass --trt-flavor {facts.flavor}, or rebuild it (drop --load-engine)")
    if facts.tensorrt_version != trt_version and not facts.version_compatible:
        raise UsageError(f"{engine_path} was built by {facts.label}, this is {here}",
                         "a plan only loads in the TensorRT version that built it unless it was "
                         "built version-compatible",
                         "rebuild it (drop --load-engine), or build with --trt-version-compatible")
    warnings = []
    if digest is not None and facts.model_digest is not None and digest != facts.model_digest:
        warnings.append(f"{engine_path} was built from a different ONNX model than the one given; "
                        "tensor and node names may not match")
    return warnings
