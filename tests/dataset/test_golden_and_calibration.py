"""--load-outputs (trtdiff's own .npz and Polygraphy RunResults JSON) and --calibration-data."""

from __future__ import annotations

import json

import numpy as np

from model_builders import conv_relu_model, save
from data_helpers import constant_samples, scale_model


def _sessions(monkeypatch) -> list[str]:
    from trtdiff.runners import onnxrt

    opened: list[str] = []
    original = onnxrt.OnnxRuntimeRunner.__enter__
    monkeypatch.setattr(onnxrt.OnnxRuntimeRunner, "__enter__", lambda self: opened.append(self.name) or original(self))
    return opened


def test_own_saved_outputs_replace_the_reference_run(cli_run, tmp_path, monkeypatch):
    model = save(conv_relu_model(), tmp_path / "m.onnx")
    common = ["run", model, "--emulate", "fp16", "--iterations", "3"]
    first = cli_run(*common, "--save-outputs", tmp_path / "out.npz", "--json", tmp_path / "a.json")
    opened = _sessions(monkeypatch)
    golden = cli_run(*common, "--load-outputs", tmp_path / "out.npz", "--json", tmp_path / "b.json")
    assert golden.exit_code == first.exit_code, golden.output
    assert opened == ["target"]  # no reference model ran at all
    a, b = (json.loads((tmp_path / f"{n}.json").read_text()) for n in "ab")
    assert a["tensors"] == b["tensors"]
    assert b["samples"]["reference"].startswith("golden outputs from")
    opened.clear()
    marked = cli_run(*common, "--load-outputs", tmp_path / "out.npz", "--mark-all")
    assert marked.exit_code in (0, 1) and sorted(opened) == ["reference", "target"]  # intermediates need it


def test_polygraphy_run_results_give_the_reference_of_every_iteration(cli_run, tmp_path):
    from polygraphy.comparator import RunResults
    from polygraphy.comparator.struct import IterationResult
    from polygraphy.json import save_json

    model = save(scale_model(1.0), tmp_path / "m.onnx")
    values = [0.5, 1.5, 3.0]
    golden = RunResults()
    golden.append(("onnxrt-runner-N0", [IterationResult({"y": np.full((1, 4), v, np.float32)},
                                                        runner_name="onnxrt-runner-N0") for v in values]))
    save_json(golden, str(tmp_path / "golden.json"))
    data_dir = constant_samples(tmp_path / "val", [0.5, 1.5, 3.01])  # sample 2 drifts from its golden output
    result = cli_run("run", model, "--target-model", model, "--load-inputs", data_dir,
                     "--load-outputs", tmp_path / "golden.json", "--atol", "1e-3", "--rtol", "0")
    assert result.exit_code == 1 and "1 of 3 samples fail (2)" in result.output, result.output


def test_calibration_data_apart_from_the_judged_samples(cli_run, tmp_path):
    model = save(conv_relu_model(), tmp_path / "m.onnx")
    rng = np.random.default_rng(0)
    wide = tmp_path / "calib"
    wide.mkdir()
    for i in range(3):
        np.savez(wide / f"c{i}.npz", x=rng.uniform(0, 50, (1, 3, 8, 8)).astype(np.float32))
    judged = ["run", model, "--int8", "--iterations", "3"]
    own = cli_run(*judged, "--json", tmp_path / "own.json")
    apart = cli_run(*judged, "--calibration-data", wide, "--json", tmp_path / "apart.json")
    own_data, apart_data = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("own", "apart"))
    assert any("calibrated on the samples being judged" in w for w in own_data["warnings"]), own.output
    assert not any("calibrated on the samples being judged" in w for w in apart_data["warnings"]), apart.output
    assert apart_data["samples"]["calibration"].startswith("3 samples from")
    # scales fit to values up to 50 are 50x coarser on inputs in [0, 1]: a larger error
    assert apart_data["tensors"][-1]["max_abs"] > 5 * own_data["tensors"][-1]["max_abs"]
