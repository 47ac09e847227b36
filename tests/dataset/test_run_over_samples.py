"""`trtdiff run` over a data set: streaming with one session per side, merged metrics, per-output
sample verdicts, --min-agreement, saving and reloading samples."""

from __future__ import annotations

import json

import numpy as np
import pytest

from data_helpers import constant_samples, scale_model
from model_builders import REPO, conv_relu_model, save

DEMO = REPO / "fixtures" / "demo_convnet.onnx"


def test_iterations_stream_through_one_session_per_side(cli_run, tmp_path, monkeypatch):
    from trtdiff.runners import onnxrt

    opened = []
    original = onnxrt.OnnxRuntimeRunner.__enter__
    monkeypatch.setattr(onnxrt.OnnxRuntimeRunner, "__enter__", lambda self: opened.append(self.name) or original(self))
    model = save(conv_relu_model(), tmp_path / "m.onnx")
    result = cli_run("run", model, "--emulate", "fp16", "--iterations", "7", "--json", tmp_path / "r.json")
    assert result.exit_code in (0, 1), result.output
    assert sorted(opened) == ["reference", "target"]  # not one session per sample
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["samples"]["count"] == 7 and data["samples"]["seed"] == 1 and data["samples"]["source"] == "generated"
    verdicts = data["tensors"][-1]["sample_verdicts"]
    assert data["tensors"][-1]["name"] == "y" and verdicts["count"] == 7


def test_one_iteration_is_the_single_sample_run(cli_run, tmp_path):
    model = save(conv_relu_model(), tmp_path / "m.onnx")
    plain = cli_run("run", model, "--emulate", "fp16", "--mark-all", "--json", tmp_path / "a.json")
    one = cli_run("run", model, "--emulate", "fp16", "--mark-all", "--iterations", "1", "--json", tmp_path / "b.json")
    assert plain.exit_code == one.exit_code
    a, b = (json.loads((tmp_path / f"{n}.json").read_text())["tensors"] for n in "ab")
    keys = ("max_abs", "mean_abs", "median_abs", "p99_abs", "cosine", "snr_db", "mismatches", "histogram")
    assert [[t[k] for k in keys] for t in a] == [[t[k] for k in keys] for t in b]


def test_per_sample_verdicts_and_min_agreement(cli_run, tmp_path):
    reference, target = save(scale_model(1.0), tmp_path / "r.onnx"), save(scale_model(1.01), tmp_path / "t.onnx")
    data_dir = constant_samples(tmp_path / "val", range(10))  # error 0.01 * i: samples 6..9 exceed 0.055
    common = ["run", reference, "--target-model", target, "--load-inputs", data_dir, "--atol", "0.055", "--rtol", "0"]
    strict = cli_run(*common, "--json", tmp_path / "strict.json")
    assert strict.exit_code == 1, strict.output
    assert "4 of 10 samples fail (6, 7, 8, 9)" in strict.output
    output = json.loads((tmp_path / "strict.json").read_text())["tensors"][0]
    assert output["worst_sample"] == 9 and output["sample_verdicts"]["failing"] == [6, 7, 8, 9]
    assert output["max_abs"] == pytest.approx(0.09, rel=1e-5)  # the largest over every sample
    assert cli_run(*common, "--min-agreement", "0.6").exit_code == 0
    assert cli_run(*common, "--min-agreement", "0.61").exit_code == 1


def test_saved_samples_and_outputs_load_back(cli_run, tmp_path):
    model = save(conv_relu_model(), tmp_path / "m.onnx")
    first = cli_run("run", model, "--emulate", "fp16", "--iterations", "4", "--save-inputs", tmp_path / "in.npz",
                    "--save-outputs", tmp_path / "out.npz", "--json", tmp_path / "1.json")
    assert first.exit_code in (0, 1), first.output
    with np.load(tmp_path / "out.npz") as outputs:
        assert set(outputs.files) == {f"{side}:{i}:y" for side in ("reference", "target") for i in range(4)} | \
            {f"inputs:{i}" for i in range(4)}  # each sample's inputs hash, checked by --load-outputs
    second = cli_run("run", model, "--emulate", "fp16", "--load-inputs", tmp_path / "in.npz", "--json", tmp_path / "2.json")
    assert second.exit_code == first.exit_code, second.output
    one, two = (json.loads((tmp_path / f"{i}.json").read_text()) for i in (1, 2))
    assert one["samples"]["fingerprint"] == two["samples"]["fingerprint"]  # the same samples
    assert one["tensors"] == two["tensors"]


def test_max_samples_caps_the_data_set(cli_run, tmp_path):
    reference, target = save(scale_model(1.0), tmp_path / "r.onnx"), save(scale_model(1.01), tmp_path / "t.onnx")
    data_dir = constant_samples(tmp_path / "val", range(10))
    result = cli_run("run", reference, "--target-model", target, "--load-inputs", data_dir, "--max-samples", "3",
                     "--atol", "0.055", "--rtol", "0", "--json", tmp_path / "r.json")
    assert result.exit_code == 0, result.output  # samples 0..2 only
    assert json.loads((tmp_path / "r.json").read_text())["samples"]["count"] == 3


def test_batched_npz_and_loader_script(cli_run, tmp_path):
    reference, target = save(scale_model(1.0), tmp_path / "r.onnx"), save(scale_model(1.01), tmp_path / "t.onnx")
    np.savez(tmp_path / "b.npz", x=np.stack([np.full((1, 4), i, np.float32) for i in range(5)]))
    batched = cli_run("run", reference, "--target-model", target, "--load-inputs", tmp_path / "b.npz", "--batched-npz",
                      "--atol", "0.035", "--rtol", "0")
    assert batched.exit_code == 1 and "1 of 5 samples fail (4)" in batched.output, batched.output
    script = tmp_path / "loader.py"
    script.write_text("import numpy as np\n"
                      "def samples():\n"
                      "    return [{'x': np.full((1, 4), i, np.float32)} for i in range(5)]\n")
    scripted = cli_run("run", reference, "--target-model", target, "--data-loader-script", f"{script}:samples",
                       "--atol", "0.035", "--rtol", "0")
    assert scripted.exit_code == 1 and "1 of 5 samples fail (4)" in scripted.output, scripted.output


def test_attribution_runs_on_the_worst_sample_or_the_one_asked_for(cli_run, tmp_path):
    worst = cli_run("run", DEMO, "--fp16", "--mark-all", "--iterations", "3", "--json", tmp_path / "w.json")
    assert worst.exit_code == 1, worst.output
    data = json.loads((tmp_path / "w.json").read_text())
    probs = next(t for t in data["tensors"] if t["name"] == "probs")
    assert data["samples"]["attribution_sample"] == probs["worst_sample"]
    assert data["offenders"] and "Attribution ran on sample" in worst.output
    chosen = cli_run("run", DEMO, "--fp16", "--mark-all", "--iterations", "3", "--attribute-sample", "2",
                     "--json", tmp_path / "c.json")
    assert json.loads((tmp_path / "c.json").read_text())["samples"]["attribution_sample"] == 2, chosen.output


def test_task_checks_on_the_command_line(cli_run, tmp_path):
    reference, target = save(scale_model(1.0, (2, 5)), tmp_path / "r.onnx"), save(scale_model(-1.0, (2, 5)),
                                                                                   tmp_path / "t.onnx")
    result = cli_run("run", reference, "--target-model", target, "--iterations", "3", "--check", "topk:1",
                     "--check", "y:snr:20", "--json", tmp_path / "r.json")
    assert result.exit_code == 1
    output = json.loads((tmp_path / "r.json").read_text())["tensors"][0]
    assert [c["check"] for c in output["sample_verdicts"]["checks"]] == ["snr:20"]  # y's own check only
    topk = cli_run("run", reference, "--target-model", reference, "--iterations", "3", "--check", "topk:2")
    assert topk.exit_code == 0 and "top-2 agreement 100.0%" in topk.output, topk.output
