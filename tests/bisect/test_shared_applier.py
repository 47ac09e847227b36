"""Bisect applies every candidate plan through one shared `PlanApplier` (`plan_applier`): an
evaluation that way gives the verdict of applying the plan in full with `apply_plan`, evaluation by
evaluation, and the search ends with the same FP32 set, evaluations and exports."""

from __future__ import annotations

import random

import numpy as np
import onnx
import pytest
from bisect_helpers import load_fixture

from trtdiff.bisect.evaluate import default_apply, run_plan
from trtdiff.bisect.over_data import plan_applier
from trtdiff.bisect.precision import bisect_precision
from trtdiff.precision.plan import PrecisionPlan
from trtdiff.result import Tolerances
from trtdiff.runners.onnxrt import OnnxRuntimeRunner

TOL = Tolerances(atol=1e-2, rtol=0.0, check="elementwise", rel_floor=1e-6)
KINDS = ["one_culprit", "two_culprits", "amplified_culprit", "paired_overflow"]


def target_infer(model: onnx.ModelProto, feeds) -> dict[str, np.ndarray]:
    """The target as `trtdiff bisect` runs it: ONNX Runtime with every graph optimisation."""
    with OnnxRuntimeRunner(model, optimize=True, name="target") as runner:
        return runner.infer(dict(feeds))


def reference_of(model: onnx.ModelProto, feeds) -> dict[str, np.ndarray]:
    with OnnxRuntimeRunner(model) as runner:
        return runner.infer(dict(feeds))


@pytest.mark.parametrize("mode", ["emulated", "native"])
@pytest.mark.parametrize("kind", KINDS)
def test_each_evaluation_gives_the_verdict_of_the_plan_applied_in_full(kind, mode, fixture_feeds):
    model = load_fixture(kind)
    plan = PrecisionPlan(default="fp16", mode=mode, out_of_range="clamp")
    shared = plan_applier(model, plan, None)
    reference = reference_of(model, fixture_feeds)
    candidates = list(default_apply(model, plan).lowered_nodes)
    rng = random.Random(kind + mode)
    verdicts = []
    for size in [0, len(candidates), *(rng.randrange(len(candidates) + 1) for _ in range(12))]:
        chosen = plan.with_fp32_nodes(rng.sample(candidates, size))
        fast = run_plan(model, chosen, fixture_feeds, reference, TOL, target_infer, shared)
        full = run_plan(model, chosen, fixture_feeds, reference, TOL, target_infer, default_apply)
        assert (fast.passed, fast.info) == (full.passed, full.info), chosen.keep_fp32_nodes
        verdicts.append(full.passed)
    if mode == "emulated":  # (ONNX Runtime's CPU provider computes native FP16 in FP32: it may pass throughout)
        assert True in verdicts and False in verdicts  # both verdicts were compared


@pytest.mark.parametrize("kind", KINDS)
def test_a_search_through_the_shared_applier_ends_where_applying_in_full_ends(kind, fixture_feeds):
    model = load_fixture(kind)
    plan = PrecisionPlan(default="fp16", mode="emulated", out_of_range="clamp")
    reference = reference_of(model, fixture_feeds)
    found = [bisect_precision(model, plan, fixture_feeds, reference, TOL, infer=target_infer, apply=apply,
                              target="onnxruntime").to_dict()
             for apply in (plan_applier(model, plan, None), default_apply)]
    assert found[0] == found[1]
    assert found[0]["fp32_nodes"]
