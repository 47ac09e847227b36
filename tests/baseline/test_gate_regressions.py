"""The gate on real regressions, offline (`trtdiff diff` of two `trtdiff run --json` results of the
committed demo model, whose planted fault is documented in fixtures/build_fixtures.py: `head_conv`
overflows FP16, `rescale` brings its FP32 output back to ordinary values):

- a candidate whose one layer (`block_conv`) has perturbed weights fails, and the new error starts
  at that layer;
- the same model and data twice passes, with the same numbers;
- a plan keeping one more node in FP32 passes, with a lower error there;
- a plan keeping one fewer fails at that node.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from trtdiff.errors import ExitCode

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "fixtures" / "demo_convnet.onnx"
FIXED = ("--keep-fp32", "head_conv", "--keep-fp32", "rescale")  # the plan that passes


def perturbed_demo(path: Path, node: str = "block_conv") -> Path:
    """The demo with `node`'s weights perturbed by 5 % noise (FP32): a re-export with one bad layer."""
    model = onnx.load(str(DEMO))
    weight = next(i for i in model.graph.initializer if i.name == f"{node}.weight")
    values = numpy_helper.to_array(weight)
    noise = np.random.default_rng(3).normal(0, 0.05, values.shape) * np.abs(values)
    weight.CopyFrom(numpy_helper.from_array((values + noise).astype(np.float32), weight.name))
    onnx.save(model, str(path))
    return path


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from click.testing import CliRunner

    from trtdiff.cli import cli

    folder = tmp_path_factory.mktemp("runs")
    runs = {
        "fixed": ["--emulate", "fp16", *FIXED],
        "fixed_again": ["--emulate", "fp16", *FIXED],
        "one_more": ["--emulate", "fp16", *FIXED, "--keep-fp32", "block_conv"],
        "one_fewer": ["--emulate", "fp16", "--keep-fp32", "rescale"],
        "perturbed": ["--target-model", str(perturbed_demo(folder / "perturbed.onnx"))],
    }
    paths = {}
    for name, options in runs.items():
        paths[name] = folder / f"{name}.json"
        CliRunner().invoke(cli, ["run", str(DEMO), *options, "--mark-all", "--no-attribute", "--json",
                                 str(paths[name])])
        assert paths[name].is_file(), name
    return paths


def gate(cli_run, old: Path, new: Path, tmp_path: Path) -> tuple[int, dict]:
    out = tmp_path / "gate.json"
    result = cli_run("diff", old, new, "--json", out)
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(out.read_text())


def test_perturbed_layer_fails_and_is_where_the_new_error_starts(cli_run, results, tmp_path: Path) -> None:
    code, data = gate(cli_run, results["fixed"], results["perturbed"], tmp_path)
    assert code == ExitCode.MISMATCH and not data["passed"]
    assert data["first_regression"]["node"] == "block_conv"
    assert data["outputs"][0]["regressed"]


def test_same_model_and_data_passes_with_the_same_numbers(cli_run, results, tmp_path: Path) -> None:
    code, data = gate(cli_run, results["fixed"], results["fixed_again"], tmp_path)
    assert code == ExitCode.PASSED and data["passed"] and data["first_regression"] is None
    assert all(t["baseline"] == t["candidate"] and t["ratio"] == 1.0 for t in data["tensors"])
    again = gate(cli_run, results["fixed"], results["fixed_again"], tmp_path)[1]
    assert again["tensors"] == data["tensors"]


def test_one_more_node_in_fp32_passes_with_lower_error(cli_run, results, tmp_path: Path) -> None:
    code, data = gate(cli_run, results["fixed"], results["one_more"], tmp_path)
    assert code == ExitCode.PASSED and data["no_new_error"]
    tensors = {t["name"]: t for t in data["tensors"]}
    assert tensors["block_out"]["candidate"] < tensors["block_out"]["baseline"]
    output = data["outputs"][0]
    assert output["candidate"] <= output["baseline"]


def test_one_fewer_node_in_fp32_fails_at_that_node(cli_run, results, tmp_path: Path) -> None:
    code, data = gate(cli_run, results["fixed"], results["one_fewer"], tmp_path)
    assert code == ExitCode.MISMATCH
    assert data["first_regression"]["node"] == "head_conv" and data["first_regression"]["new_nonfinite"]
