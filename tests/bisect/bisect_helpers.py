"""Helpers for the bisect tests: where the fixtures are, an ONNX Runtime infer function, loading
a fixture. (A module of its own: `from conftest import ...` would be ambiguous across test folders.)"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures" / "bisect"
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(FIXTURES))


def ort_infer(model: onnx.ModelProto, feeds) -> dict[str, np.ndarray]:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, dict(feeds))))


def load_fixture(kind: str) -> onnx.ModelProto:
    from trtdiff.model import load_model

    return load_model(FIXTURES / f"{kind}.onnx")
