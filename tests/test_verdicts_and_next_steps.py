"""Honest verdicts and the next step (issue 13, items 4 and 6): a reference output holding NaN/Inf
cannot silently PASS, a run that compares nothing says so, and a failing run ends with commands
that do what they say (each is run here)."""

from __future__ import annotations

import json
import shlex

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from model_builders import save


def nan_reference_model() -> onnx.ModelProto:
    """y = sqrt(-x - 1): NaN for every x >= 0, in FP32 as in FP16 (NaN agrees with NaN)."""
    nodes = [helper.make_node("Mul", ["x", "neg"], ["n"], name="negate"),
             helper.make_node("Add", ["n", "neg"], ["n2"], name="shift"),
             helper.make_node("Sqrt", ["n2"], ["y"], name="root")]
    graph = helper.make_graph(nodes, "nan_reference", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])],
                              [numpy_helper.from_array(np.array(-1, np.float32), "neg")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def dynamic_batch_model() -> onnx.ModelProto:
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="relu")], "batch",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 8])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def underflow_then_log() -> onnx.ModelProto:
    """Culprit `shrink` (sigmoid(x) * 1e-9 flushes to zero in FP16), then log(0) = -inf."""
    nodes = [helper.make_node("Sigmoid", ["x"], ["s"], name="squash"),
             helper.make_node("Mul", ["s", "tiny"], ["u"], name="shrink"),
             helper.make_node("Log", ["u"], ["l"], name="logit"),
             helper.make_node("Add", ["l", "x"], ["y"], name="out")]
    graph = helper.make_graph(nodes, "log", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64])],
                              [numpy_helper.from_array(np.array(1e-9, np.float32), "tiny")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def test_a_nan_reference_output_cannot_silently_pass(cli_run, tmp_path) -> None:
    path = save(nan_reference_model(), tmp_path / "nan.onnx")
    result = cli_run("run", path, "--fp16", "--json", tmp_path / "r.json", "--report", tmp_path / "r.html")
    assert result.exit_code == 1, result.output  # main: PASS, exit 0
    assert "the FP32 reference output 'y' holds 8 NaN and 0 Inf of 8 values" in result.output
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["passed"] is False and data["nonfinite_reference"] == ["y"]
    assert any("--allow-nonfinite-reference" in w for w in data["warnings"])
    html = (tmp_path / "r.html").read_text()
    assert "holds 8 NaN" in html and "FAIL" in html
    accepted = cli_run("run", path, "--fp16", "--allow-nonfinite-reference", "--json", tmp_path / "a.json")
    assert accepted.exit_code == 0, accepted.output
    assert "holds NaN/Inf (accepted)" in " ".join(accepted.output.split())
    assert json.loads((tmp_path / "a.json").read_text())["nonfinite_reference"] == ["y"]


def test_bisect_refuses_a_nan_reference_unless_accepted(cli_run, tmp_path) -> None:
    path = save(nan_reference_model(), tmp_path / "nan.onnx")
    result = cli_run("bisect", path, "--fp16", "--no-progress")
    assert result.exit_code == 3 and "Traceback" not in result.output
    assert "the FP32 reference output 'y' holds 8 NaN" in result.output
    assert cli_run("bisect", path, "--fp16", "--allow-nonfinite-reference", "--no-progress").exit_code == 0


def test_a_run_that_compares_nothing_says_so(cli_run, tmp_path) -> None:
    path = save(dynamic_batch_model(), tmp_path / "batch.onnx")
    result = cli_run("run", path, "--fp16", "--input-shapes", "x:[0,8]", "--json", tmp_path / "r.json",
                     "--report", tmp_path / "r.html")
    assert result.exit_code == 0, result.output
    assert "PASS (nothing compared)" in result.output and "no element was compared" in result.output
    assert any("no element was compared" in w for w in json.loads((tmp_path / "r.json").read_text())["warnings"])
    assert "PASS (nothing compared)" in (tmp_path / "r.html").read_text()
    normal = cli_run("run", path, "--fp16", "--input-shapes", "x:[2,8]")
    assert "nothing compared" not in normal.output


def test_a_failing_run_ends_with_next_steps_that_do_what_they_say(cli_run, tmp_path) -> None:
    path = save(underflow_then_log(), tmp_path / "log.onnx")
    np.savez(tmp_path / "inputs.npz", x=np.random.default_rng(2).random((1, 64), dtype=np.float32))
    result = cli_run("run", path, "--fp16", "--mark-all", "--load-inputs", tmp_path / "inputs.npz",
                     "--atol", "2e-3", "--json", tmp_path / "r.json", "--report", tmp_path / "r.html")
    assert result.exit_code == 1, result.output
    data = json.loads((tmp_path / "r.json").read_text())
    bisect, keep = (step["command"] for step in data["next_steps"])
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines[-4] == f"Next: {bisect}" and lines[-2] == f"Next: {keep}"  # the run ends with them
    assert bisect in (tmp_path / "r.html").read_text().replace("&#39;", "'")
    assert shlex.split(bisect) == ["trtdiff", "bisect", path, "--fp16", "--load-inputs",
                                   str(tmp_path / "inputs.npz"), "--atol", "0.002"]
    found = cli_run(*shlex.split(bisect)[1:], "--json", tmp_path / "b.json", "--no-progress")
    assert found.exit_code == 0, found.output
    assert json.loads((tmp_path / "b.json").read_text())["passed"] is True  # it finds a set that passes
    words = shlex.split(keep)
    assert words[words.index("--keep-fp32") + 1] == "shrink"  # the top offender
    kept = cli_run(*words[1:], "--json", tmp_path / "k.json")
    rerun = json.loads((tmp_path / "k.json").read_text())
    assert "shrink" in rerun["settings"]["precision_plan"]["keep_fp32_nodes"]
    before = next(t for t in data["tensors"] if t["name"] == "u")["max_abs"]
    after = next(t for t in rerun["tensors"] if t["name"] == "u")["max_abs"]
    assert after < before / 1000  # 'shrink' now runs in FP32: its output no longer flushes to zero
    assert kept.exit_code in (0, 1)


def test_a_passing_run_suggests_nothing(cli_run, tmp_path) -> None:
    path = save(dynamic_batch_model(), tmp_path / "batch.onnx")
    result = cli_run("run", path, "--fp16", "--input-shapes", "x:[2,8]", "--json", tmp_path / "r.json")
    assert result.exit_code == 0 and "Next:" not in result.output
    assert json.loads((tmp_path / "r.json").read_text())["next_steps"] == []


def test_the_next_steps_keep_every_digit_of_the_tolerances_and_checks(cli_run, tmp_path) -> None:
    """A threshold '%g' rounds (cosine 0.99999999 written as 1, atol 1.23456789e-05 as 1.23457e-05)
    would make the suggested command judge differently; it is run here and judges the same."""
    path = save(underflow_then_log(), tmp_path / "log.onnx")
    given = ["--atol", "1.23456789e-05", "--rtol", "0.000123456789", "--check", "y:cosine:0.99999999",
             "--check", "snr:30.123456", "--iterations", "3", "--val-range", "[0,0.123456789]",
             "--rel-floor", "1.23456789e-07", "--min-agreement", "0.9999"]
    result = cli_run("run", path, "--fp16", *given, "--json", tmp_path / "r.json")
    assert result.exit_code == 1, result.output
    data = json.loads((tmp_path / "r.json").read_text())
    assert "cosine:0.99999999" in result.output and "atol 1.23456789e-05" in result.output
    rerun_command = next(s["command"] for s in data["next_steps"] if "--mark-all" in s["command"])
    words = shlex.split(rerun_command)
    pairs = set(zip(words, words[1:]))
    assert all(pair in pairs for pair in zip(given[::2], given[1::2])), words  # every digit, as given
    rerun = cli_run(*words[1:], "--no-attribute", "--json", tmp_path / "again.json")
    assert rerun.exit_code == result.exit_code
    again = json.loads((tmp_path / "again.json").read_text())
    assert again["settings"]["tolerances"] == data["settings"]["tolerances"]
    verdicts = [next(t for t in d["tensors"] if t["name"] == "y")["sample_verdicts"] for d in (data, again)]
    assert verdicts[0]["checks"] == verdicts[1]["checks"] and verdicts[0]["failing"] == verdicts[1]["failing"]
