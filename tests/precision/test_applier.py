"""A `PlanApplier` reused across plans (as bisect reuses one for every evaluation) builds exactly the
model `apply_plan` builds from scratch: byte for byte, with the same lowered and kept nodes, reasons
and warnings, whatever plans it applied before."""

from __future__ import annotations

import random

import onnx
import pytest
from precision_helpers import FIXTURES

from trtdiff.precision.analysis import FLOAT, model_facts
from trtdiff.precision.apply import AppliedPlan, PlanApplier, apply_plan
from trtdiff.precision.plan import PrecisionPlan

TARGETS = [("fp16", "emulated"), ("fp16", "native"), ("bf16", "emulated"), ("fp8", "emulated"),
           ("int8", "emulated"), ("int8", "native")]


def _summary(applied: AppliedPlan) -> tuple[object, ...]:
    return (applied.model.SerializeToString(deterministic=True), applied.warnings, applied.lowered_nodes,
            applied.kept_nodes, dict(applied.kept_reasons), dict(applied.kept_rules))


@pytest.mark.parametrize("default,mode", TARGETS)
@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_a_reused_applier_builds_what_apply_plan_builds(name, default, mode):
    model = FIXTURES[name]()
    # every float tensor calibrated alike: the ranges a bisect measures once and reuses
    ranges = {t: (-2.0, 3.0) for t, elem in model_facts(model).types.items() if elem == FLOAT}
    plan = PrecisionPlan(default=default, mode=mode, out_of_range="clamp" if name == "overflow" else "keep")
    applier = PlanApplier(model, ranges=ranges)
    candidates = list(applier.apply(plan).lowered_nodes)
    rng = random.Random(f"{name}{default}{mode}")
    plans = [plan.with_fp32_nodes(rng.sample(candidates, k)) for k in range(len(candidates) + 1)]
    plans += [plan, plan.with_fp32_nodes(candidates)]  # back to where it started, then everything kept
    rng.shuffle(plans)
    for chosen in plans:
        assert _summary(applier.apply(chosen)) == _summary(apply_plan(model, chosen, ranges=ranges)), chosen


def test_a_reused_applier_refuses_what_apply_plan_refuses():
    model = FIXTURES["convnet"]()
    applier = PlanApplier(model)
    applier.apply(PrecisionPlan(default="fp16", mode="emulated"))
    for bad in (PrecisionPlan(default="fp16", mode="emulated", keep_fp32_nodes=("no_such_node",)),
                PrecisionPlan(default="fp16", mode="emulated", keep_fp32_ops=("LayerNorm",))):
        with pytest.raises(Exception) as fresh:
            apply_plan(model, bad)
        with pytest.raises(type(fresh.value)) as reused:
            applier.apply(bad)
        assert str(reused.value) == str(fresh.value)


def test_the_applier_leaves_the_model_as_it_was():
    model = FIXTURES["transformer"]()
    before = model.SerializeToString(deterministic=True)
    applier = PlanApplier(model)
    plan = PrecisionPlan(default="fp16", mode="emulated")
    first = applier.apply(plan)
    applier.apply(plan.with_fp32_nodes(first.lowered_nodes[:2]))
    assert model.SerializeToString(deterministic=True) == before
    assert isinstance(first.model, onnx.ModelProto)
