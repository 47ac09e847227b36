"""Versions and machine facts for reports, gathered without importing TensorRT (only
runners/trt.py may import it)."""

from __future__ import annotations

import importlib.metadata
import os
import platform
from typing import Any

from trtdiff.version import __version__

_PACKAGES = ("onnx", "onnxruntime", "onnxruntime-gpu", "numpy", "tensorrt", "tensorrt-rtx", "polygraphy")


def package_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def collect(target: dict[str, Any] | None = None) -> dict[str, str]:
    """Facts for the report's environment section; values are display strings."""
    facts = {"trtdiff": __version__, "python": platform.python_version(),
             "platform": platform.platform(terse=True), "cpu": _cpu_name(), "cpus": str(os.cpu_count())}
    for name in _PACKAGES:
        version = package_version(name)
        facts[name] = version if version else "not installed"
    try:
        import onnxruntime

        facts["onnxruntime providers"] = ", ".join(onnxruntime.get_available_providers())
    except ImportError:
        pass
    for key, value in (target or {}).items():
        facts[f"target {key}"] = str(value)
    return facts


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
