"""Pure helpers for the TensorRT runner: option parsing, engine-inspector JSON, mapping engine
layers and tensors back to ONNX nodes, engine plan files, data types and parser capability.

Nothing in this package imports `tensorrt`; only `trtdiff.runners.trt` does. Everything here is
therefore tested for real on machines without TensorRT or a GPU.
"""

from __future__ import annotations
