"""onnxconverter-common's `auto_convert_mixed_precision`, run with its conversions counted (one
conversion per evaluation of a candidate FP32 set): the search trtdiff's bisect is compared with,
shared by bench_bisect.py (planted-fault fixtures) and bisect_real.py (real models)."""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
import onnx


def run_occ(model: onnx.ModelProto, feeds: dict[str, np.ndarray], rtol: float, atol: float) -> dict[str, object]:
    """onnxconverter-common's own search, counting its conversions (= evaluations)."""
    from onnxconverter_common import auto_mixed_precision, float16

    calls: list[list[str]] = []
    original = float16.convert_float_to_float16

    def counted(*args: object, **kwargs: object) -> onnx.ModelProto:
        calls.append(list(kwargs.get("node_block_list") or []))
        return original(*args, **kwargs)

    float16.convert_float_to_float16 = counted
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            auto_mixed_precision.auto_convert_mixed_precision(model, feeds, rtol=rtol, atol=atol, keep_io_types=True)
    finally:
        float16.convert_float_to_float16 = original
    return {"fp32": sorted(calls[-1]), "evaluations": len(calls)}
