"""Regressions for edge cases found in review: each would have crashed or given a wrong verdict."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from trtdiff import segmented

from model_builders import REPO, conv_relu_model, make_model, save

DEMO = REPO / "fixtures" / "demo_convnet.onnx"


def _json(path):
    return json.loads(path.read_text())


@pytest.mark.parametrize("args,message", [
    (["--rel-floor", "0"], "--rel-floor"),
    (["--atol", "nan"], "not a usable tolerance"),
    (["--rtol", "inf"], "not a usable tolerance"),
    (["--val-range", "[0,inf]"], "not finite"),
])
def test_unusable_numbers_are_usage_errors(cli_run, tmp_path, args, message):
    result = cli_run("run", save(conv_relu_model(), tmp_path / "m.onnx"), "--fp16", *args)
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_an_output_the_target_never_produced_fails_the_run(cli_run, tmp_path):
    other = conv_relu_model()
    other.graph.node[2].output[0] = "y_renamed"
    other.graph.output[0].name = "y_renamed"
    result = cli_run("run", save(conv_relu_model(), tmp_path / "a.onnx"), "--target-model",
                     save(other, tmp_path / "b.onnx"), "--mark-all", "--json", tmp_path / "r.json")
    assert result.exit_code == 1, result.output
    assert {t["name"]: t["status"] for t in _json(tmp_path / "r.json")["tensors"]}["y"] == "reference_only"


def test_segmented_run_lists_no_boundary_tensor_as_target_only(cli_run, tmp_path, monkeypatch):
    monkeypatch.setattr(segmented, "SEGMENT_BYTES", 40_000)
    result = cli_run("run", DEMO, "--emulate", "fp16", "--mark-all", "--no-attribute", "--json", tmp_path / "r.json")
    assert result.exit_code == 1, result.output
    statuses = {t["status"] for t in _json(tmp_path / "r.json")["tensors"]}
    assert statuses == {"compared"}


def test_segmented_run_compares_a_graph_input_listed_as_output(cli_run, tmp_path, monkeypatch):
    model = conv_relu_model()
    model.graph.output.append(helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8]))
    monkeypatch.setattr(segmented, "SEGMENT_BYTES", 300)
    result = cli_run("run", save(model, tmp_path / "m.onnx"), "--fp16", "--mark-all", "--no-attribute",
                     "--json", tmp_path / "r.json")
    rows = {t["name"]: t for t in _json(tmp_path / "r.json")["tensors"]}
    assert result.exit_code in (0, 1) and rows["x"]["status"] == "compared" and rows["x"]["passed"] is True


def test_sequence_values_are_listed_not_compared(cli_run, tmp_path):
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="relu"),
             helper.make_node("SequenceConstruct", ["r", "r"], ["seq"], name="pack"),
             helper.make_node("SequenceAt", ["seq", "zero"], ["y"], name="pick")]
    model = make_model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
                       [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])],
                       [numpy_helper.from_array(np.array(0, np.int64), "zero")])
    result = cli_run("run", save(model, tmp_path / "m.onnx"), "--emulate", "fp16", "--mark-all", "--json",
                     tmp_path / "r.json")
    assert "Traceback" not in result.output and result.exit_code in (0, 1), result.output
    data = _json(tmp_path / "r.json")
    assert "seq" not in {t["name"] for t in data["tensors"]}
    assert any(u["node"] == "pack" and "sequence" in u["reason"] for u in data["unmarked"])


def test_string_tensors_are_compared_for_equality():
    from trtdiff.measure.align import compare_pair
    from trtdiff.measure.tolerance import ToleranceSpec

    same, note = compare_pair("s", np.array(["a", "b"]), np.array(["a", "b"]), ToleranceSpec())
    diff, _ = compare_pair("s", np.array(["a", "b"]), np.array(["a", "c"]), ToleranceSpec())
    assert same.passed and not diff.passed and diff.metrics.mismatches == 1 and "equality" in note


def test_outputs_names_outside_mark_all_are_compared_and_listed(cli_run, tmp_path):
    nodes = [helper.make_node("Constant", [], ["k"], name="const", value=numpy_helper.from_array(np.float32(2.0))),
             helper.make_node("Mul", ["x", "k"], ["a"], name="mul"),
             helper.make_node("Shape", ["a"], ["sh"], name="shape"),
             helper.make_node("Reshape", ["a", "sh"], ["y"], name="reshape")]
    model = make_model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
                       [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])])
    result = cli_run("run", save(model, tmp_path / "m.onnx"), "--fp16", "--outputs", "k", "--outputs", "sh",
                     "--json", tmp_path / "r.json")
    assert result.exit_code == 0, result.output
    assert {"k", "sh", "y"} <= {t["name"] for t in _json(tmp_path / "r.json")["tensors"]}


def test_input_without_a_shape_needs_input_shapes(cli_run, tmp_path):
    model = make_model([helper.make_node("Relu", ["x"], ["y"], name="relu")],
                       [onnx.ValueInfoProto(name="x", type=onnx.TypeProto(tensor_type=onnx.TypeProto.Tensor(elem_type=1)))],
                       [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    path = save(model, tmp_path / "m.onnx")
    refused = cli_run("run", path, "--fp16")
    assert refused.exit_code == 2 and "no shape in the model" in refused.output
    assert cli_run("run", path, "--fp16", "--input-shapes", "x:[2,3]").exit_code == 0


@pytest.mark.parametrize("name,content,message", [
    ("empty.json", b"[]", "holds no samples"),
    ("cut.npz", b"PK\x03\x04truncated", "cannot read inputs"),
])
def test_broken_input_files_are_usage_errors(cli_run, tmp_path, name, content, message):
    (tmp_path / name).write_bytes(content)
    result = cli_run("run", save(conv_relu_model(), tmp_path / "m.onnx"), "--fp16", "--load-inputs", tmp_path / name)
    assert result.exit_code == 2 and message in result.output, result.output


def test_corrupt_pb_input_is_a_usage_error(cli_run, tmp_path):
    folder = tmp_path / "test_data_set_0"
    folder.mkdir()
    (folder / "input_0.pb").write_bytes(b"\xff\xff\xff garbage")
    result = cli_run("run", save(conv_relu_model(), tmp_path / "m.onnx"), "--fp16", "--load-inputs", folder)
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output


def test_integer_inputs_stay_inside_the_range():
    from trtdiff.inputs import InputSettings, generate_inputs
    from trtdiff.runners.base import TensorSpec

    feeds = generate_inputs([TensorSpec("i", np.dtype(np.int64), (1000,))], InputSettings({}, {"": (-0.5, 0.5)}))
    assert set(np.unique(feeds["i"])) == {0}
