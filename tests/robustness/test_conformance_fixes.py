"""Bugs the ONNX node tests found in trtdiff's transforms, each on a tiny model of the same kind, and
the refusals that remain: their advice, applied, gives a model trtdiff runs."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from model_builders import make_model, save
from trtdiff.precision.apply import apply_plan
from trtdiff.precision.plan import PrecisionPlan


def _run(cli_run, model_path, *args):
    result = cli_run("run", model_path, *args)
    assert "internal error" not in result.output and "Traceback" not in result.output, result.output
    return result


def _vi(name, elem=TensorProto.FLOAT, shape=(2, 3)):
    return helper.make_tensor_value_info(name, elem, list(shape))


def test_a_model_without_float_tensors_runs_unchanged_at_any_opset(cli_run, tmp_path):
    """test_and2d (opset 7), test_not_2d (opset 1): nothing to lower, nothing inserted."""
    model = make_model([helper.make_node("And", ["a", "b"], ["y"], name="and")],
                       [_vi("a", TensorProto.BOOL), _vi("b", TensorProto.BOOL)], [_vi("y", TensorProto.BOOL)], opset=7)
    applied = apply_plan(model, PrecisionPlan("int8", mode="emulated"), [{}])
    assert applied.lowered_nodes == () and [n.op_type for n in applied.model.graph.node] == ["And"]
    path = save(model, tmp_path / "and.onnx")
    for args in (["--emulate", "int8"], ["--fp16"]):
        result = _run(cli_run, path, *args, "--mark-all")
        assert result.exit_code == 0, result.output


@pytest.mark.slow
def test_an_ai_onnx_ml_model_gets_the_default_domain_its_inserted_nodes_need(cli_run, tmp_path):
    """test_ai_onnx_ml_tree_ensemble_set_membership imports only ai.onnx.ml; the Casts and Q/DQ
    trtdiff inserts are ai.onnx nodes, so the transformed model must import ai.onnx too."""
    from node_cases import node_cases

    case = next(c for c in node_cases() if c.name == "test_ai_onnx_ml_tree_ensemble_set_membership")
    assert {i.domain for i in case.model.opset_import} == {"ai.onnx.ml"}
    for plan, feeds in ((PrecisionPlan("fp16", mode="emulated"), None),
                        (PrecisionPlan("int8", mode="emulated"), [case.inputs])):
        applied = apply_plan(case.model, plan, feeds)
        assert {i.domain for i in applied.model.opset_import} == {"ai.onnx.ml", ""}
        onnx.checker.check_model(applied.model)
    model_path, inputs_path = case.save(tmp_path)
    for args in (["--emulate", "int8"], ["--fp16"]):
        assert _run(cli_run, model_path, *args, "--mark-all", "--load-inputs", inputs_path).exit_code in (0, 1)


def test_an_integer_model_the_opset_converter_cannot_take_runs_unchanged(cli_run, tmp_path):
    """test_bitshift_left_int16 (opset 28): INT8 wanted the model at an opset ONNX Runtime runs
    Q/DQ at, and onnx's converter refuses BitShift on int16 there; with no float32 tensor there is
    nothing to lower, so the target is the model unchanged."""
    vi = [_vi(n, TensorProto.INT16, (3,)) for n in ("x", "s", "y")]
    model = make_model([helper.make_node("BitShift", ["x", "s"], ["y"], name="shift", direction="LEFT")],
                       vi[:2], vi[2:], opset=onnx.defs.onnx_opset_version())
    applied = apply_plan(model, PrecisionPlan("int8", mode="emulated"), [{}])
    assert applied.model == model and "nothing to convert" in applied.warnings[0]
    assert _run(cli_run, save(model, tmp_path / "shift.onnx"), "--emulate", "int8").exit_code == 0


@pytest.mark.slow
def test_an_opset_upgrade_that_changes_the_inputs_is_refused(cli_run, tmp_path):
    """test_scan_sum (opset 8): INT8 needs opset 10, and onnx's converter turns Scan 8 into Scan 9
    with another input shape, which the samples no longer fit (it failed later, in calibration)."""
    from node_cases import node_cases

    case = next(c for c in node_cases() if c.name == "test_scan_sum")
    model_path, inputs_path = case.save(tmp_path)
    result = _run(cli_run, model_path, "--emulate", "int8", "--load-inputs", inputs_path)
    assert result.exit_code == 2 and "changes the type or shape of input 'initial'" in result.output
    assert _run(cli_run, model_path, "--fp16", "--load-inputs", inputs_path).exit_code == 0


def test_a_model_without_inputs_calibrates(cli_run, tmp_path):
    """test_constant: ONNX Runtime's calibrator took the empty sample for the end of the data."""
    value = helper.make_tensor("v", TensorProto.FLOAT, [2, 3], np.linspace(-1, 1, 6).tolist())
    model = make_model([helper.make_node("Constant", [], ["c"], name="const", value=value),
                        helper.make_node("Relu", ["c"], ["y"], name="relu")], [], [_vi("y")])
    applied = apply_plan(model, PrecisionPlan("int8", mode="emulated"), [{}])
    assert applied.ranges and applied.ranges["c"] == pytest.approx((-1.0, 1.0))
    assert _run(cli_run, save(model, tmp_path / "const.onnx"), "--emulate", "int8", "--mark-all").exit_code in (0, 1)


def test_attribution_skips_nodes_fed_by_a_tensor_the_reference_does_not_hold(cli_run, tmp_path):
    """test_linear_attention_*_expanded: an If body read an outer integer shape tensor (--mark-all
    skips those), and the If's shadow model asked the reference for it."""
    then = helper.make_graph([helper.make_node("Reshape", ["r", "s"], ["t"], name="reshape")], "then", [],
                             [_vi("t")])
    other = helper.make_graph([helper.make_node("Identity", ["r"], ["e"], name="same")], "else", [], [_vi("e")])
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="relu"),
             helper.make_node("Shape", ["x"], ["s"], name="shape"),
             helper.make_node("If", ["c"], ["y"], name="if", then_branch=then, else_branch=other)]
    model = make_model(nodes, [_vi("x"), _vi("c", TensorProto.BOOL, ())], [_vi("y")])
    path = save(model, tmp_path / "m.onnx")
    np.savez(tmp_path / "in.npz", x=np.linspace(-300, 300, 6, dtype=np.float32).reshape(2, 3), c=np.array(True))
    result = _run(cli_run, path, "--emulate", "int8", "--mark-all", "--attribute", "--load-inputs", tmp_path / "in.npz")
    assert result.exit_code in (0, 1)


def test_sequence_outputs_only_are_refused_and_outputs_makes_it_run(cli_run, tmp_path):
    """test_split_to_sequence_*: no output is a tensor, which used to 'fail' with 0 of 0 outputs."""
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="relu"),
             helper.make_node("SplitToSequence", ["r"], ["seq"], name="split", axis=0)]
    seq = helper.make_tensor_sequence_value_info("seq", TensorProto.FLOAT, None)
    path = save(make_model(nodes, [_vi("x")], [seq]), tmp_path / "seq.onnx")
    refused = _run(cli_run, path, "--fp16")
    assert refused.exit_code == 2 and "no graph output is a tensor" in refused.output
    assert _run(cli_run, path, "--fp16", "--outputs", "r").exit_code == 0


def test_string_inputs_load_from_npz(cli_run, tmp_path):
    """test_string_concat: an .npz keeps strings as numpy str arrays; the model takes object arrays."""
    nodes = [helper.make_node("StringConcat", ["a", "b"], ["y"], name="concat")]
    model = make_model(nodes, [_vi("a", TensorProto.STRING), _vi("b", TensorProto.STRING)],
                       [_vi("y", TensorProto.STRING)], opset=20)
    words = np.array([["a", "b", "c"], ["d", "e", "f"]])
    np.savez(tmp_path / "in.npz", a=words, b=words)
    result = _run(cli_run, save(model, tmp_path / "s.onnx"), "--fp16", "--load-inputs", tmp_path / "in.npz")
    assert result.exit_code == 0, result.output


def _relu_at(opset: int, op: str = "Relu", **attrs) -> onnx.ModelProto:
    return make_model([helper.make_node(op, ["x"], ["y"], name="node", **attrs)], [_vi("x")], [_vi("y")], opset=opset)


def test_int8_at_an_opset_without_onnxruntime_qdq_kernels_runs(cli_run, tmp_path):
    """test_celu and 40 more import opset 28, where ONNX Runtime 1.32 has no QuantizeLinear kernel:
    the INT8 target is converted down to an opset it runs (trtdiff.precision.opsets) and says so."""
    model = _relu_at(onnx.defs.onnx_opset_version())
    result = _run(cli_run, save(model, tmp_path / "new.onnx"), "--emulate", "int8")
    assert result.exit_code in (0, 1), result.output


def test_int8_before_opset_10_runs_upgraded(cli_run, tmp_path):
    """test_shrink_hard (opset 9): QuantizeLinear needs opset 10, so the target model is upgraded."""
    result = _run(cli_run, save(_relu_at(9, "Shrink", lambd=0.5), tmp_path / "old.onnx"), "--emulate", "int8")
    assert result.exit_code in (0, 1), result.output
