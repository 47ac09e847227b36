"""Pure helpers for the TensorRT runner: the module's features (which flavour can do what), option
parsing, engine-inspector JSON, mapping engine layers and tensors back to ONNX nodes, engine plan
files and their sidecar, data types, parser capability, the ONNX operator table, the driver probe
and whether an engine can run here.

Nothing in this package imports `tensorrt` or `tensorrt_rtx`; only `trtdiff.runners.trt` does (the
module is passed in where needed). Everything here is therefore tested on machines without
TensorRT or a GPU, and against the real TensorRT-RTX where it is installed.
"""

from __future__ import annotations
