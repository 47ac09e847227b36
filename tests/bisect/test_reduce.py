"""Reduce: the smallest failing subgraph, saved with its inputs, reproduces the failure alone."""

from __future__ import annotations

import dataclasses

import numpy as np
import onnx
import pytest
from bisect_helpers import load_fixture, ort_infer
from fakes import FakePlan, fake_apply

from trtdiff.bisect.evaluate import plan_check, run_plan
from trtdiff.bisect.reduce import calibration_inputs, capture_reference, reduce_failure, save_reduced
from trtdiff.bisect.state import Outcome
from trtdiff.runners.onnxrt import OnnxRuntimeRunner
from trtdiff.errors import UsageError
from trtdiff.result import Tolerances

# intermediates up to 5e4 carry FP16 rounding of ~16: compare them relative to their size
TOL = Tolerances(atol=1e-2, rtol=1e-2, check="elementwise", rel_floor=1e-6)


def reduce(kind, feeds, plan=FakePlan(), tol=TOL):
    model = load_fixture(kind)
    reference = capture_reference(model, feeds, ort_infer)
    check = plan_check(plan, reference, tol, ort_infer, fake_apply)
    return model, reduce_failure(model, reference, check)


def test_reduce_cuts_down_to_the_culprit(fixture_feeds):
    model, result = reduce("one_culprit", fixture_feeds)
    assert "culprit_div" in result.nodes
    assert len(result.nodes) <= 2, result.nodes
    assert result.outputs == ("culprit_div_out",)
    assert result.evaluations <= 2 * np.ceil(np.log2(len(model.graph.node))) + 3
    onnx.checker.check_model(result.model, full_check=True)


def test_amplified_culprit_reduces_to_culprit_and_amplifier(fixture_feeds):
    _, result = reduce("amplified_culprit", fixture_feeds)
    # the culprit's own error is below atol; it first shows after the amplifier
    assert set(result.nodes) == {"culprit_mul", "amplifier"}


def test_saved_model_and_inputs_reproduce_the_failure_alone(tmp_path, fixture_feeds):
    _, result = reduce("one_culprit", fixture_feeds)
    paths = save_reduced(result, tmp_path)
    model = onnx.load(str(paths["model"]))
    with np.load(paths["inputs"]) as data:
        inputs = {k: data[k] for k in data.files}
    assert set(inputs) == {i.name for i in model.graph.input}
    reference = ort_infer(model, inputs)  # what `trtdiff run` does: FP32 reference on the piece
    outcome = run_plan(model, FakePlan(), inputs, reference, TOL, ort_infer, fake_apply)
    assert not outcome.passed and outcome.info["failing"]


def test_a_target_that_errors_out_is_reduced_to_the_failing_node(fixture_feeds):
    model = load_fixture("one_culprit")
    reference = capture_reference(model, fixture_feeds, ort_infer)

    def check(part, feeds):
        if any(node.op_type == "Sigmoid" for node in part.graph.node):
            return Outcome(False, {"error": "Sigmoid is not supported"})
        return Outcome(True)

    result = reduce_failure(model, reference, check, fail_on="error")
    first_sigmoid = next(n.name for n in model.graph.node if n.op_type == "Sigmoid")
    assert result.nodes == (first_sigmoid,)
    assert result.outcome.info["error"]


def test_nothing_to_reduce_is_a_usage_error(fixture_feeds):
    with pytest.raises(UsageError, match="nothing to reduce"):
        reduce("one_culprit", fixture_feeds, tol=Tolerances(1.0, 1e-2, "elementwise", 1e-6))


def test_calibration_inputs_are_the_full_models_tensors_on_each_sample(fixture_feeds):
    """A reduced model cut inside the graph calibrates on its inputs as the whole model computes
    them in FP32, sample by sample (graph inputs pass through as given)."""
    model = load_fixture("one_culprit")
    samples = [{k: v * scale for k, v in fixture_feeds.items()} for scale in (1.0, 0.5, -2.0)]
    names = ["add_2_out", "mul_14_out", *fixture_feeds]
    sessions = []

    def open_runner(marked):
        sessions.append(marked)
        return OnnxRuntimeRunner(marked)

    produced = list(calibration_inputs(model, names, samples, open_runner))
    assert len(sessions) == 1  # one session serves every sample
    assert len(produced) == 3
    for feeds, tensors in zip(samples, produced):
        whole = capture_reference(model, feeds, ort_infer)
        assert set(tensors) == set(names)
        for name in names:
            np.testing.assert_array_equal(tensors[name], whole[name])


def test_a_failing_calibration_step_leaves_the_earlier_reduction_whole(tmp_path, fixture_feeds):
    """The calibration folder is made first: when making it fails, the model, inputs and
    calibration samples of the earlier reduction are all still there, together."""
    _, result = reduce("one_culprit", fixture_feeds)
    save_reduced(result, tmp_path, calibration=iter([fixture_feeds]))
    before = {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}

    def broken():
        yield fixture_feeds
        raise RuntimeError("calibration sample 1 cannot be read")

    other = dataclasses.replace(result, inputs={k: v + 1 for k, v in result.inputs.items()})
    with pytest.raises(RuntimeError):
        save_reduced(other, tmp_path, calibration=broken())
    after = {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert after == before
