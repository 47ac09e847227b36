"""TensorRT data types (by `trt.DataType` member NAME, never by value: values moved between
releases) to NumPy dtypes, and the host copy of a tensor the debug listener hands over.

`trt.nptype` knows no BF16 or FP8, so `ml_dtypes` (a dependency) supplies those. Results handed to
the comparison are upcast from BF16/FP8 to float32 (exact), so downstream code sees only NumPy's
own float types; the engine's type is kept in the runner's description. Packed 4-bit types
(INT4, FP4) cannot be represented per element and are reported as not comparable.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np

from trtdiff.errors import ToolError

_NUMPY = {
    "FLOAT": np.dtype(np.float32),
    "HALF": np.dtype(np.float16),
    "BF16": np.dtype(ml_dtypes.bfloat16),
    "FP8": np.dtype(ml_dtypes.float8_e4m3fn),
    "E8M0": np.dtype(ml_dtypes.float8_e8m0fnu) if hasattr(ml_dtypes, "float8_e8m0fnu") else None,
    "INT8": np.dtype(np.int8),
    "UINT8": np.dtype(np.uint8),
    "INT32": np.dtype(np.int32),
    "INT64": np.dtype(np.int64),
    "BOOL": np.dtype(np.bool_),
}
PACKED = ("INT4", "FP4")
_SHORT = {"FLOAT": "fp32", "HALF": "fp16", "BF16": "bf16", "FP8": "fp8", "INT8": "int8",
          "UINT8": "uint8", "INT32": "int32", "INT64": "int64", "BOOL": "bool", "INT4": "int4",
          "FP4": "fp4", "E8M0": "e8m0"}


def numpy_dtype(trt_name: str) -> np.dtype:
    """NumPy dtype for a `trt.DataType` member name; ToolError for packed or unknown types."""
    dtype = _NUMPY.get(trt_name.upper())
    if dtype is None:
        raise ToolError(f"TensorRT data type {trt_name} has no per-element NumPy equivalent",
                        "packed 4-bit and unknown types cannot be compared element by element",
                        "compare the tensor after it is dequantized (its consumer's output)")
    return dtype


def short_name(trt_name: str) -> str:
    """`HALF` -> `fp16`, for reports."""
    return _SHORT.get(trt_name.upper(), trt_name.lower())


def trt_name_for(dtype: np.dtype) -> str | None:
    """The `trt.DataType` member name for a NumPy dtype, or None."""
    for name, candidate in _NUMPY.items():
        if candidate is not None and candidate == np.dtype(dtype):
            return name
    return None


def host_array(raw: bytes | bytearray | memoryview, trt_name: str, shape: tuple[int, ...],
               copy: bool = True) -> np.ndarray:
    """A host array from the bytes of one tensor; BF16/FP8 upcast to float32 (exact). With
    `copy=False` the array shares `raw`, which the caller must own (a fresh bytearray)."""
    dtype = numpy_dtype(trt_name)
    count = int(np.prod(shape)) if shape else 1
    if len(raw) < count * dtype.itemsize:
        raise ToolError(f"TensorRT handed over {len(raw)} bytes for a {trt_name} tensor of shape "
                        f"{list(shape)}", f"{count * dtype.itemsize} bytes were expected",
                        "report this with the engine's inspector output")
    array = np.frombuffer(raw, dtype=dtype, count=count).reshape(shape)
    if copy:
        array = array.copy()
    if dtype.kind == "V":  # ml_dtypes types (bfloat16, float8_*)
        return array.astype(np.float32)
    return array
