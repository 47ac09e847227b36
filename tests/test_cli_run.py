"""`trtdiff run` end to end through the real click group and its error boundary."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from onnx import TensorProto, helper

from model_builders import REPO, conv_relu_model, make_model, save

DEMO = REPO / "fixtures" / "demo_convnet.onnx"
TENSOR_KEYS = {"name", "node", "op_type", "index", "shape", "dtype", "max_abs", "mean_abs", "median_abs",
               "p99_abs", "max_rel", "mean_rel", "cosine", "snr_db", "mismatches", "nan_ref", "nan_target",
               "inf_ref", "inf_target", "ref_max_abs", "passed"}


def _no_traceback(result) -> None:
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_fp16_mark_all_on_demo_fails_at_the_planted_overflow(cli_run, tmp_path):
    out = tmp_path / "r.json"
    result = cli_run("run", DEMO, "--fp16", "--mark-all", "--json", out)
    _no_traceback(result)
    assert result.exit_code == 1, result.output
    data = json.loads(out.read_text())
    assert data["passed"] is False and data["outputs"] == ["probs"]
    assert data["first_divergence"] is not None
    assert TENSOR_KEYS <= set(data["tensors"][0])
    by_name = {t["name"]: t for t in data["tensors"]}
    assert [t["index"] for t in data["tensors"]] == sorted(t["index"] for t in data["tensors"])
    assert by_name["head_out"]["inf_target"] > 0 and by_name["head_out"]["inf_ref"] == 0
    assert by_name["stem_out"]["passed"] is True and by_name["stem_out"]["inf_target"] == 0
    assert "emulated" in data["settings"]["target"]
    assert "FAIL" in result.output and "head_out" in result.output


def test_identical_target_model_passes_and_one_sided_tensors_are_listed(cli_run, tmp_path):
    model = conv_relu_model()
    other = conv_relu_model()
    other.graph.node[1].output[0] = "r_renamed"  # relu output renamed in the target
    other.graph.node[2].input[0] = "r_renamed"
    a, b = save(model, tmp_path / "a.onnx"), save(other, tmp_path / "b.onnx")
    result = cli_run("run", a, "--target-model", b, "--mark-all", "--json", tmp_path / "r.json")
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "r.json").read_text())
    status = {t["name"]: t["status"] for t in data["tensors"]}
    assert status == {"c": "compared", "r": "reference_only", "y": "compared", "r_renamed": "target_only"}


def test_per_tensor_tolerance_and_fail_on_all(cli_run, tmp_path):
    weight = np.random.default_rng(0).normal(0, 0.3, (4, 3, 3, 3)).astype(np.float32)
    a = save(conv_relu_model(weight), tmp_path / "a.onnx")
    b = save(conv_relu_model(weight + 0.01), tmp_path / "b.onnx")
    loose = cli_run("run", a, "--target-model", b, "--atol", "1", "--mark-all", "--fail-on", "all")
    assert loose.exit_code == 0, loose.output
    strict = cli_run("run", a, "--target-model", b, "--atol", "1", "--atol", "c:1e-6", "--mark-all", "--fail-on", "all")
    assert strict.exit_code == 1
    outputs_only = cli_run("run", a, "--target-model", b, "--atol", "1", "--atol", "c:1e-6", "--mark-all")
    assert outputs_only.exit_code == 0  # c is an intermediate: it fails but does not decide the verdict


def test_outputs_option_marks_chosen_tensors(cli_run, tmp_path):
    a = save(conv_relu_model(), tmp_path / "a.onnx")
    result = cli_run("run", a, "--fp16", "--outputs", "c", "--json", tmp_path / "r.json")
    assert result.exit_code in (0, 1), result.output
    names = [t["name"] for t in json.loads((tmp_path / "r.json").read_text())["tensors"]]
    assert names == ["c", "y"]
    bad = cli_run("run", a, "--fp16", "--outputs", "cc")
    assert bad.exit_code == 2 and "no tensor named 'cc'" in bad.output and "close names: c" in bad.output


def test_save_and_load_inputs_round_trip(cli_run, tmp_path):
    a = save(conv_relu_model(batch="N"), tmp_path / "a.onnx")
    first = cli_run("run", a, "--fp16", "--input-shapes", "x:2x3x8x8", "--save-inputs", tmp_path / "in.npz",
                    "--save-outputs", tmp_path / "out.npz", "--json", tmp_path / "1.json")
    assert first.exit_code in (0, 1), first.output
    with np.load(tmp_path / "in.npz") as saved:
        assert saved["x"].shape == (2, 3, 8, 8)
    with np.load(tmp_path / "out.npz") as outs:
        assert set(outs.files) == {"reference:0:y", "target:0:y", "inputs:0"}  # per sample, and its inputs hash
    second = cli_run("run", a, "--fp16", "--load-inputs", tmp_path / "in.npz", "--json", tmp_path / "2.json")
    assert second.exit_code in (0, 1), second.output
    one, two = (json.loads((tmp_path / f"{i}.json").read_text()) for i in (1, 2))
    assert one["tensors"][0]["max_abs"] == two["tensors"][0]["max_abs"]


@pytest.mark.parametrize("make_args,code,message", [
    (lambda d: ["run", d / "missing.onnx", "--fp16"], 2, "model file not found"),
    (lambda d: ["run", d / "corrupt.onnx", "--fp16"], 3, "cannot read"),
    (lambda d: ["run", d / "dyn.onnx", "--fp16"], 2, "--input-shapes x:[1,3,8,8]"),
    (lambda d: ["run", d / "dyn.onnx", "--fp16", "--input-shapes", "q:1x3x8x8"], 2, "unknown input 'q'"),
    (lambda d: ["run", d / "dyn.onnx", "--fp16", "--load-inputs", d / "wrong_name.npz"], 2, "unknown input 'z'"),
    (lambda d: ["run", d / "dyn.onnx", "--fp16", "--load-inputs", d / "wrong_rank.npz"], 2, "rank 2"),
    (lambda d: ["run", d / "dyn.onnx", "--fp16", "--load-inputs", d / "wrong_dtype.npz"], 2, "float64"),
    (lambda d: ["run", d / "dyn.onnx"], 2, "no target given"),
    (lambda d: ["run", d / "dyn.onnx", "--fp16", "--input-shapes", "x:1x3x8x8", "--json", d / "nodir" / "f" / "r.json",
                "--providers", "cuda"], 2, "requested provider cuda"),
    (lambda d: ["run", d / "custom.onnx", "--fp16"], 3, "cannot"),
    (lambda d: ["run", d / "dyn.onnx", "--fp16", "--input-shapes", "x:1x3x8x8", "--json", d / "file.txt" / "r.json"],
     2, "cannot create the folder"),
    (lambda d: ["run", d / "dyn.onnx", "--fp16", "--input-shapes", "x:1x3x8x8", "--json", d], 2, "is a directory"),
    (lambda d: ["run", d / "dyn.onnx", "--fp16", "--atol", "abc"], 2, "cannot read --atol"),
])
def test_bad_input_gets_one_clear_line_and_exit_code(cli_run, tmp_path, make_args, code, message):
    save(conv_relu_model(batch="N"), tmp_path / "dyn.onnx")
    (tmp_path / "corrupt.onnx").write_bytes(b"\x08\x07garbage-not-onnx" * 5)
    (tmp_path / "file.txt").write_text("x")
    np.savez(tmp_path / "wrong_name.npz", z=np.zeros((1, 3, 8, 8), np.float32))
    np.savez(tmp_path / "wrong_rank.npz", x=np.zeros((3, 8), np.float32))
    np.savez(tmp_path / "wrong_dtype.npz", x=np.zeros((1, 3, 8, 8)))
    custom = make_model([helper.make_node("FancyOp", ["x"], ["y"], name="fancy", domain="com.example")],
                        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    custom.opset_import.append(helper.make_opsetid("com.example", 1))
    save(custom, tmp_path / "custom.onnx")
    before = sorted(p.name for p in tmp_path.iterdir())
    result = cli_run(*make_args(tmp_path))
    _no_traceback(result)
    assert result.exit_code == code, result.output
    assert message in result.output
    error_lines = [line for line in result.output.splitlines() if line.startswith(("trtdiff: error:", "Error:"))]
    assert len(error_lines) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no half-written files


def test_nan_in_inputs_is_reported_not_a_crash(cli_run, tmp_path):
    a = save(conv_relu_model(), tmp_path / "a.onnx")
    x = np.ones((1, 3, 8, 8), np.float32)
    x[0, 0, 0, 0] = np.nan
    np.savez(tmp_path / "in.npz", x=x)
    result = cli_run("run", a, "--fp16", "--load-inputs", tmp_path / "in.npz", "--mark-all", "--json", tmp_path / "r.json")
    _no_traceback(result)
    assert result.exit_code in (0, 1)
    data = json.loads((tmp_path / "r.json").read_text())
    assert any("1 NaN" in w for w in data["warnings"])
    assert data["tensors"][0]["nan_ref"] > 0


def test_python_dash_m_and_version():
    done = subprocess.run([sys.executable, "-m", "trtdiff", "--version"], capture_output=True, text=True, check=True)
    assert "trtdiff" in done.stdout


def test_runner_takes_session_options_and_rejects_unknown_ones():
    from trtdiff.errors import UsageError
    from trtdiff.runners.onnxrt import OnnxRuntimeRunner

    x = {"x": np.ones((1, 3, 8, 8), np.float32)}
    with OnnxRuntimeRunner(conv_relu_model(), session_options={"intra_op_num_threads": 1}) as runner:
        assert runner.infer(x)["y"].shape == ()
        assert runner.describe()["backend"] == "onnxruntime"
    with pytest.raises(UsageError, match="unknown ONNX Runtime session option 'bogus'"):
        with OnnxRuntimeRunner(conv_relu_model(), session_options={"bogus": 1}):
            pass


@pytest.mark.parametrize("flag", [["--target", "trt"], ["--reference", "trt"]])
def test_tensorrt_either_side_without_tensorrt_is_one_line_exit_3(cli_run, flag, monkeypatch):
    for module in ("tensorrt", "tensorrt_rtx"):  # as on a machine with neither installed
        monkeypatch.setitem(sys.modules, module, None)
    result = cli_run("run", DEMO, "--fp16", *flag)
    assert result.exit_code == 3, result.output
    assert "TensorRT is not available" in result.output and "pip install tensorrt" in result.output
    _no_traceback(result)
