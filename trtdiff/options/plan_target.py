"""A precision plan as a target builder: shared by the ONNX Runtime and TensorRT targets."""

from __future__ import annotations

from collections.abc import Mapping

import onnx

from trtdiff.precision.plan import PrecisionPlan
from trtdiff.request import BuiltTarget, Calibration, ModelBuilder


def plan_builder(plan: PrecisionPlan) -> ModelBuilder:
    """Apply `plan` to the reference model; the calibration samples (one sample's feeds, or an
    iterable of samples read lazily) calibrate INT8/FP8 scales."""

    def build(model: onnx.ModelProto, calibration: Calibration) -> BuiltTarget:
        from trtdiff.precision.apply import apply_plan

        samples = [calibration] if isinstance(calibration, Mapping) else calibration
        applied = apply_plan(model, plan, samples)  # type: ignore[arg-type]
        return BuiltTarget(applied.model, tuple(applied.warnings), calibrated=applied.ranges is not None)

    return build
