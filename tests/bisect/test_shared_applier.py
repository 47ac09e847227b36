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


def constant_weight_model() -> onnx.ModelProto:
    """Weights in Constant nodes (as paddle2onnx exports them): `w1` read only by `mm1`, `w2` also
    a graph output, `w3` read as it is inside an If body."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(3)

    def constant(name: str, shape: tuple[int, ...]) -> onnx.NodeProto:
        value = numpy_helper.from_array(rng.normal(0, 0.5, shape).astype(np.float32))
        return helper.make_node("Constant", [], [name], name=f"{name}_const", value=value)

    body = helper.make_graph([helper.make_node("Identity", ["w3"], ["b"], name="body_copy")], "body", [],
                             [helper.make_tensor_value_info("b", TensorProto.FLOAT, None)])
    nodes = [constant("w1", (8, 8)), constant("w2", (8, 8)), constant("w3", (8,)),
             helper.make_node("MatMul", ["x", "w1"], ["h1"], name="mm1"),
             helper.make_node("MatMul", ["h1", "w2"], ["h2"], name="mm2"),
             helper.make_node("ReduceSum", ["h2"], ["s"], name="sum", keepdims=0),
             helper.make_node("Greater", ["s", "zero"], ["c"], name="positive"),
             helper.make_node("If", ["c"], ["y"], name="branch", then_branch=body, else_branch=body)]
    graph = helper.make_graph(nodes, "constants", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None),
                               helper.make_tensor_value_info("w2", TensorProto.FLOAT, [8, 8])],
                              [numpy_helper.from_array(np.float32(0.0), "zero")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def test_dropping_the_constants_nothing_reads_changes_no_output():
    """Bisect's judge drops the Constant nodes a transform left unread (ONNX Runtime would drop
    them on loading): the target computes the same outputs, bit for bit."""
    from trtdiff.model import drop_unread_constants

    model = constant_weight_model()
    feeds = {"x": np.random.default_rng(0).normal(0, 1, (4, 8)).astype(np.float32)}
    applied = default_apply(model, PrecisionPlan(default="fp16", mode="emulated")).model
    kept = onnx.ModelProto()
    kept.CopyFrom(applied)
    dropped = drop_unread_constants(applied)
    constants = {n.output[0] for n in dropped.graph.node if n.op_type == "Constant"}
    assert constants == {"w2", "w3"}  # a graph output, and a value a body reads
    assert {n.output[0] for n in kept.graph.node if n.op_type == "Constant"} == {"w1", "w2", "w3"}
    same, before = target_infer(dropped, feeds), target_infer(kept, feeds)
    assert same.keys() == before.keys()
    for name in same:
        np.testing.assert_array_equal(same[name], before[name])
