"""Planted faults: each fixture's culprits rank first by the error they introduce, and the nodes
downstream of them (which only pass the error on) rank low."""

from __future__ import annotations

import math

import pytest
from attribution_helpers import attributed, build, offender_nodes, save, score

from trtdiff.attribution import local_error_ranking
from trtdiff.precision import PrecisionPlan

FP16_CASES = ["overflow", "underflow", "nan_origin", "cancellation", "two_culprits"]
DOWNSTREAM = {"overflow": ["activate", "y"], "underflow": ["expand", "shift", "y"],
              "nan_origin": ["offset", "y"], "cancellation": ["square", "variance", "std", "normed", "y"],
              "two_culprits": ["b_expand", "merge", "y"], "quantization": ["spike", "head", "y"]}


@pytest.mark.parametrize("name", FP16_CASES)
def test_culprits_rank_first_and_downstream_low_fp16(name, tmp_path):
    comparison = attributed(save(build.BUILDERS[name](), tmp_path / f"{name}.onnx"), fp16=True)
    culprits = build.CULPRITS[name]
    ranked = offender_nodes(comparison)
    assert set(ranked[: len(culprits)]) == set(culprits), ranked
    assert comparison.offenders[0].rank == 1
    worst_culprit = min(score(comparison, c) for c in culprits)
    for node in DOWNSTREAM[name]:
        assert score(comparison, node) < 1e-3 <= worst_culprit, (node, score(comparison, node))
        assert ranked.index(node) >= len(culprits)


def test_int8_outlier_culprit_ranks_first_native_qdq(tmp_path):
    comparison = attributed(save(build.quantization(), tmp_path / "q.onnx"), int8=True)
    assert "int8" in comparison.settings.target and "emulated" not in comparison.settings.target
    ranked = offender_nodes(comparison)
    assert ranked[0] == "proj", ranked
    for node in DOWNSTREAM["quantization"]:
        assert score(comparison, node) < score(comparison, "proj") / 10


def test_two_culprits_ties_in_kind_broken_topologically(tmp_path):
    comparison = attributed(save(build.two_culprits(), tmp_path / "two.onnx"), fp16=True)
    first, second = comparison.offenders[:2]
    assert (first.node, second.node) == ("a_square", "b_shrink")
    assert math.isinf(first.score) and 0 < second.score < math.inf
    assert first.hints == ("overflow",) and second.hints == ("underflow",)


@pytest.mark.parametrize("name", ["overflow", "cancellation", "two_culprits"])
def test_local_error_ranking_for_bisect(name):
    model = build.BUILDERS[name]()
    rng = __import__("numpy").random.default_rng(0)
    shape = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    feeds = {"x": rng.uniform(0, 1, shape).astype("float32")}
    ranking = local_error_ranking(model, PrecisionPlan("fp16"), feeds)
    culprits = build.CULPRITS[name]
    assert set(ranking[: len(culprits)]) == set(culprits), ranking
    assert len(ranking) == len(model.graph.node)
