"""Precision plans and the ONNX-to-ONNX transforms that apply them (native FP16/BF16, emulated
FP16/BF16/FP8, INT8/FP8 with Q/DQ), and their exports for other tools."""

from __future__ import annotations

from trtdiff.precision.apply import AppliedPlan, apply_plan
from trtdiff.precision.calibrate import calibrate_ranges, check_feeds
from trtdiff.precision.export import (
    FORMATS,
    export_all,
    export_plan,
    export_text,
    export_texts,
)
from trtdiff.precision.plan import PrecisionPlan, validate_plan

__all__ = [
    "FORMATS",
    "AppliedPlan",
    "PrecisionPlan",
    "apply_plan",
    "calibrate_ranges",
    "check_feeds",
    "export_all",
    "export_plan",
    "export_text",
    "export_texts",
    "validate_plan",
]
