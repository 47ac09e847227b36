"""A precision plan as a target builder: shared by the ONNX Runtime and TensorRT targets."""

from __future__ import annotations

from collections.abc import Callable

import onnx

from trtdiff.inputs import Feeds
from trtdiff.precision.plan import PrecisionPlan
from trtdiff.request import BuiltTarget


def plan_builder(plan: PrecisionPlan) -> Callable[[onnx.ModelProto, Feeds], BuiltTarget]:
    """Apply `plan` to the reference model; the run's inputs calibrate INT8/FP8 scales."""

    def build(model: onnx.ModelProto, feeds: Feeds) -> BuiltTarget:
        from trtdiff.precision.apply import apply_plan

        applied = apply_plan(model, plan, [feeds])
        return BuiltTarget(applied.model, tuple(applied.warnings))

    return build
