"""The public Python API: trtdiff.compare, Comparison.to_dataframe, and the progress bar."""

from __future__ import annotations

import math

import numpy as np
import pytest

import trtdiff
from data_helpers import scale_model
from model_builders import REPO, conv_relu_model, save

DEMO = REPO / "fixtures" / "demo_convnet.onnx"


def test_compare_returns_the_comparison_the_command_writes(cli_run, tmp_path):
    model = save(conv_relu_model(), tmp_path / "m.onnx")
    result = trtdiff.compare(model, target="emulate:fp16", mark_all=True, iterations=3)
    assert isinstance(result, trtdiff.Comparison) and result.samples.count == 3
    cli = cli_run("run", model, "--emulate", "fp16", "--mark-all", "--iterations", "3", "--json", tmp_path / "r.json")
    from_cli = trtdiff.comparison_from_json((tmp_path / "r.json").read_text())
    assert cli.exit_code == (0 if result.passed else 1)
    assert [t.metrics for t in from_cli.tensors] == [t.metrics for t in result.tensors]
    assert [t.sample_verdicts for t in from_cli.tensors] == [t.sample_verdicts for t in result.tensors]
    assert from_cli.samples.fingerprint == result.samples.fingerprint and from_cli.samples.count == 3


def test_run_command_calls_compare(cli_run, tmp_path, monkeypatch):
    from trtdiff import api

    calls = []
    real = api.compare
    monkeypatch.setattr(api, "compare", lambda *a, **k: calls.append(k) or real(*a, **k))
    assert cli_run("run", save(conv_relu_model(), tmp_path / "m.onnx"), "--fp16", "--iterations", "2").exit_code in (0, 1)
    assert len(calls) == 1 and calls[0]["inputs"].iterations == 2


def test_compare_takes_samples_in_memory_and_a_target_model(tmp_path):
    reference, target = save(scale_model(1.0), tmp_path / "r.onnx"), save(scale_model(1.01), tmp_path / "t.onnx")
    samples = [{"x": np.full((1, 4), v, np.float32)} for v in (1.0, 2.0, 9.0)]
    result = trtdiff.compare(reference, target=target, inputs=samples, atol=0.05, rtol=0)
    output = result.tensor("y")
    assert not result.passed and output.worst_sample == 2 and output.sample_verdicts.failing == (2,)
    assert trtdiff.compare(reference, target=target, inputs=samples, atol=0.05, rtol=0, min_agreement=0.6).passed
    with pytest.raises(trtdiff.errors.UsageError, match="unknown target"):
        trtdiff.compare(reference, target="fp12")


def test_to_dataframe_one_row_per_tensor_with_real_floats():
    result = trtdiff.compare(DEMO, target="fp16", mark_all=True, attribute=False)
    frame = result.to_dataframe()
    assert list(frame["name"]) == [t.name for t in result.tensors]
    assert frame["max_abs"].dtype == np.float64 and frame["cosine"].dtype == np.float64
    assert str(frame["mismatches"].dtype) == "Int64" and str(frame["passed"].dtype) == "boolean"
    probs = frame.set_index("name").loc["probs"]
    tensor = result.tensor("probs")
    assert math.isnan(probs["max_abs"]) == math.isnan(tensor.metrics.max_abs)  # NaN stays NaN
    head = frame.set_index("name").loc["head_out"]
    assert head["inf_target"] == result.tensor("head_out").metrics.inf_target > 0
    assert not bool(probs["passed"]) and frame["max_abs"].isna().sum() >= 1


def test_progress_bar_only_on_a_terminal(monkeypatch):
    from trtdiff import progress

    monkeypatch.setattr("sys.stderr.isatty", lambda: False, raising=False)
    with progress.progress("samples", 3) as advance:
        advance()  # a no-op off a terminal
    assert not progress.wanted(True)

    class Tty:
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("sys.stderr", Tty())
    monkeypatch.setattr("sys.stdout", Tty())
    assert progress.wanted(True) and not progress.wanted(False)
