"""`trtdiff bisect` over a data set: a plan passes when every sample passes (or --min-agreement of
them), the reference outputs are computed once, and evaluations stop at the first failing sample
once the criterion cannot be met."""

from __future__ import annotations

import json

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from model_builders import make_model, save

COMMON = ["--emulate", "fp16", "--atol", "1e-2", "--rtol", "0", "--no-progress"]


def two_branch_model():
    """y = a * 1 ('mul_a'), z = b * 1 ('mul_b'): in FP16 each output errs by up to |value| * 2^-11, so
    a branch fails (atol 1e-2) exactly on the samples whose input is large (about 100)."""
    nodes = [helper.make_node("Mul", ["a", "one"], ["y"], name="mul_a"),
             helper.make_node("Mul", ["b", "one"], ["z"], name="mul_b")]
    inputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 16]) for n in ("a", "b")]
    outputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 16]) for n in ("y", "z")]
    return make_model(nodes, inputs, outputs, [numpy_helper.from_array(np.array(1.0, np.float32), "one")])


def samples(folder, large: list[str | None]) -> str:
    """Sample i: input large[i] uniform in [90, 110] (fails in FP16), the others in [0, 1]."""
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i, which in enumerate(large):
        arrays = {n: rng.uniform(90, 110, (1, 16)) if n == which else rng.uniform(0, 1, (1, 16)) for n in "ab"}
        np.savez(folder / f"{i}.npz", **{n: v.astype(np.float32) for n, v in arrays.items()})
    return str(folder)


def _bisect(cli_run, *args):
    result = cli_run("bisect", *args, "--json", "-")
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.output)


@pytest.fixture
def model(tmp_path) -> str:
    return save(two_branch_model(), tmp_path / "m.onnx")


def test_every_sample_must_pass(cli_run, tmp_path, model):
    data = samples(tmp_path / "val", [None, "a", "b"])
    found = _bisect(cli_run, model, *COMMON, "--load-inputs", data)
    assert found["passed"] and sorted(n["node"] for n in found["fp32_nodes"]) == ["mul_a", "mul_b"]
    first_failing_only = _bisect(cli_run, model, *COMMON, "--load-inputs", data, "--max-samples", "2")
    assert [n["node"] for n in first_failing_only["fp32_nodes"]] == ["mul_a"]  # sample 2 not seen


def test_min_agreement_lets_a_share_of_samples_fail(cli_run, tmp_path, model):
    """Output 'y' fails on sample 1 and output 'z' on sample 2: each fails one sample of three,
    which --min-agreement 0.6 allows, so `run` passes with every node lowered, and bisect agrees
    (it counted failing samples over all outputs together and kept 'mul_a', saying that dropping
    it fails)."""
    data = samples(tmp_path / "val", [None, "a", "b"])
    found = _bisect(cli_run, model, *COMMON, "--load-inputs", data, "--min-agreement", "0.6")
    assert found["passed"] and found["fp32_nodes"] == []
    run = cli_run("run", model, *COMMON, "--load-inputs", data, "--min-agreement", "0.6")
    assert run.exit_code == 0, run.output


def test_min_agreement_is_per_output(cli_run, tmp_path, model):
    """Output 'y' fails on two samples of three: beyond what --min-agreement 0.6 allows, so only
    'mul_a' is kept, and the reason names 'y'."""
    data = samples(tmp_path / "val", [None, "a", "a"])
    found = _bisect(cli_run, model, *COMMON, "--load-inputs", data, "--min-agreement", "0.6")
    assert found["passed"] and [n["node"] for n in found["fp32_nodes"]] == ["mul_a"]
    assert "output 'y' fails" in found["fp32_nodes"][0]["reason"]


def test_reference_once_and_evaluations_stop_at_the_first_failing_sample(cli_run, tmp_path, model, monkeypatch):
    from trtdiff.runners.onnxrt import OnnxRuntimeRunner

    data = samples(tmp_path / "val", [None, "a", "b", None, None, None, None, None])
    calls: dict[str, int] = {}
    sessions: dict[str, int] = {}
    real_infer, real_enter = OnnxRuntimeRunner.infer, OnnxRuntimeRunner.__enter__

    def infer(self, feeds):
        calls[self.name] = calls.get(self.name, 0) + 1
        return real_infer(self, feeds)

    def enter(self):
        sessions[self.name] = sessions.get(self.name, 0) + 1
        return real_enter(self)

    monkeypatch.setattr(OnnxRuntimeRunner, "infer", infer)
    monkeypatch.setattr(OnnxRuntimeRunner, "__enter__", enter)
    found = _bisect(cli_run, model, *COMMON, "--load-inputs", data, "--ranking", _ranking(tmp_path))
    assert sorted(n["node"] for n in found["fp32_nodes"]) == ["mul_a", "mul_b"]
    assert calls["reference"] == 8 and sessions["reference"] == 1  # every sample's reference, once
    evaluations = found["evaluations"]
    # one session per evaluation (the first, over every sample to find the worst, is reused by the search)
    assert sessions["target"] == evaluations
    # passing evaluations see all 8 samples; failing ones stop at their first failing sample
    assert calls["target"] < 8 * evaluations


def _ranking(tmp_path) -> str:
    path = tmp_path / "ranking.txt"
    path.write_text("mul_a\nmul_b\n")
    return str(path)


def test_int8_scales_are_calibrated_once_on_the_calibration_data(cli_run, tmp_path, monkeypatch):
    from model_builders import conv_relu_model
    from trtdiff.precision import calibrate

    model = save(conv_relu_model(), tmp_path / "conv.onnx")
    seen: list[int] = []
    real = calibrate._run_calibrator
    monkeypatch.setattr(calibrate, "_run_calibrator",
                        lambda m, feeds, *a: seen.append(sum(1 for _ in feeds)) or real(m, feeds, *a))
    common = ["bisect", model, "--int8", "--iterations", "4", "--atol", "1", "--no-progress"]
    judged = cli_run(*common)
    assert judged.exit_code == 0 and "calibrated on the samples being judged" in judged.output, judged.output
    # once for every evaluation of the search, on the 4 judged samples (the local-error ranking
    # calibrates its own target on the one sample it runs on)
    assert seen[0] == 4 and seen.count(4) == 1
    folder = tmp_path / "calib"
    folder.mkdir()
    for i in range(2):
        np.savez(folder / f"{i}.npz", x=np.full((1, 3, 8, 8), i, np.float32))
    seen.clear()
    apart = cli_run(*common, "--calibration-data", folder)
    assert apart.exit_code == 0 and "calibrated on the samples being judged" not in apart.output, apart.output
    assert seen[0] == 2 and seen.count(2) == 1 and 4 not in seen
