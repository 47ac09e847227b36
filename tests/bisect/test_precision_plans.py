"""Precision bisect over real precision plans (trtdiff.precision), native and emulated FP16."""

from __future__ import annotations

import pytest
from bisect_helpers import load_fixture, ort_infer

from trtdiff.bisect.evaluate import default_apply
from trtdiff.bisect.precision import bisect_precision
from trtdiff.bisect.search import STATUS_ALL_LOWER_PASSES, STATUS_MINIMAL
from trtdiff.precision.plan import PrecisionPlan
from trtdiff.result import Tolerances

TOL = Tolerances(atol=1e-2, rtol=0.0, check="elementwise", rel_floor=1e-6)


def run(kind, feeds, plan, ranking=()):
    model = load_fixture(kind)
    return bisect_precision(model, plan, feeds, ort_infer(model, feeds), TOL, infer=ort_infer,
                            ranking=list(ranking))


@pytest.mark.parametrize("mode", ["native", "emulated"])
@pytest.mark.parametrize("kind", ["one_culprit", "two_culprits", "amplified_culprit"])
def test_planted_culprits_are_found_over_real_plans(kind, mode, expected, fixture_feeds):
    found = run(kind, fixture_feeds, PrecisionPlan(default="fp16", mode=mode, out_of_range="clamp"))
    assert found.search.status == STATUS_MINIMAL
    assert sorted(n["node"] for n in found.fp32_nodes) == sorted(expected["minimal_fp32"][kind])
    assert set(expected["minimal_fp32"][kind]) <= set(found.plan.keep_fp32_nodes)
    assert found.exports, "every export format of the fixed plan"


def test_paired_activation_overflow_over_emulated_plans(expected, fixture_feeds):
    found = run("paired_overflow", fixture_feeds, PrecisionPlan(default="fp16", mode="emulated"))
    assert sorted(n["node"] for n in found.fp32_nodes) == ["root", "square"]


def test_the_plans_own_out_of_range_rule_already_fixes_constant_faults(fixture_feeds):
    found = run("one_culprit", fixture_feeds, PrecisionPlan(default="fp16", mode="emulated"))
    assert found.search.status == STATUS_ALL_LOWER_PASSES


def test_fixed_plan_applies_and_passes(fixture_feeds):
    model = load_fixture("two_culprits")
    found = run("two_culprits", fixture_feeds, PrecisionPlan(default="fp16", mode="native", out_of_range="clamp"))
    applied = default_apply(model, found.plan, fixture_feeds)
    assert {"culprit_div_a", "culprit_div_b"} <= set(applied.kept_nodes)
