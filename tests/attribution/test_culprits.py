"""Planted faults: each fixture's culprits rank first by the error they introduce, and the nodes
downstream of them (which only pass the error on) rank low."""

from __future__ import annotations

import math

import pytest
from attribution_helpers import attributed, build, offender_nodes, save, score

from trtdiff.attribution import local_error_ranking
from trtdiff.precision import PrecisionPlan

CHARGED_READERS = {"two_culprits": ("a_normalize",)}
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
    # a reader charged to a culprit (it converts the culprit's overflowing output to FP16 again)
    # follows it: bisect needs it in FP32 too
    readers = CHARGED_READERS.get(name, ())
    assert set(ranking[: len(culprits) + len(readers)]) == set(culprits) | set(readers), ranking
    assert ranking[0] == culprits[0]
    assert len(ranking) == len(model.graph.node)


def test_consumer_whose_own_input_conversion_overflows_is_the_culprit(tmp_path):
    """'big' adds a constant of 1e5, beyond FP16: the plan keeps it in FP32, so its output is
    finite in the target; 'act' (Relu) is lowered and its FP16 input conversion makes the infs."""
    from onnx import TensorProto, helper, numpy_helper

    nodes = [helper.make_node("Mul", ["x", "gain"], ["scaled"], name="scaled"),
             helper.make_node("Add", ["scaled", "bias"], ["big"], name="big"),
             helper.make_node("Relu", ["big"], ["act"], name="act")]
    inits = [numpy_helper.from_array(__import__("numpy").array(2.0, "float32"), "gain"),
             numpy_helper.from_array(__import__("numpy").array([1e5, 1.0], "float32"), "bias")]
    graph = helper.make_graph(nodes, "kept", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 2])],
                              [helper.make_tensor_value_info("act", TensorProto.FLOAT, [3, 2])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    comparison = attributed(save(model, tmp_path / "kept.onnx"), fp16=True)
    assert offender_nodes(comparison)[0] == "act" and math.isinf(comparison.offenders[0].score)
    assert comparison.offenders[0].hints == ("overflow",)
    assert comparison.tensor("big").local.inf_target == 0


@pytest.mark.parametrize("name", sorted(build.BUILDERS))
def test_committed_fixture_files_match_their_builders(name):
    import onnx
    from attribution_helpers import ROOT

    committed = onnx.load(str(ROOT / "fixtures" / "attribution" / f"{name}.onnx"))
    assert committed.SerializeToString() == build.BUILDERS[name]().SerializeToString()
    assert "Culprit" in committed.graph.doc_string or "culprits" in committed.graph.doc_string
