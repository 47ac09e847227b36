"""Shared helpers for the bisect tests: fixtures on disk, an ONNX Runtime infer function, and a
stand-in for `trtdiff.compare.metrics` while the runner/comparison issue has not landed."""

from __future__ import annotations

import importlib
import json
import math
import sys
import types
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures" / "bisect"
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(FIXTURES))


def _install_metrics_stub() -> None:
    try:
        importlib.import_module("trtdiff.compare.metrics")
        return
    except ImportError:
        pass
    from trtdiff.result import ErrorMetrics

    def compute_metrics(ref, target, atol, rtol, check="elementwise", rel_floor=1e-6):
        err = np.abs(np.asarray(target, np.float64) - np.asarray(ref, np.float64))
        bad = ~(err <= atol + rtol * np.abs(ref))
        nan = math.nan
        metrics = ErrorMetrics(err.size, float(np.nanmax(err)) if err.size else nan, nan, nan, nan, nan, nan,
                               nan, nan, int(bad.sum()), 0, 0, 0, 0, float(np.abs(ref).max()))
        return metrics, not bad.any()

    stub = types.ModuleType("trtdiff.compare.metrics")
    stub.compute_metrics = compute_metrics  # type: ignore[attr-defined]
    sys.modules["trtdiff.compare.metrics"] = stub


_install_metrics_stub()


def ort_infer(model: onnx.ModelProto, feeds) -> dict[str, np.ndarray]:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, dict(feeds))))


@pytest.fixture(scope="session")
def expected() -> dict:
    return json.loads((FIXTURES / "expected.json").read_text())


@pytest.fixture(scope="session")
def fixture_feeds() -> dict[str, np.ndarray]:
    with np.load(FIXTURES / "inputs.npz") as data:
        return {k: data[k] for k in data.files}


def load_fixture(kind: str) -> onnx.ModelProto:
    from trtdiff.model import load_model

    return load_model(FIXTURES / f"{kind}.onnx")
