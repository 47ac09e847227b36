"""`trtdiff baseline save` and `trtdiff check` through the CLI, on the committed demo model (its
planted fault, documented in fixtures/build_fixtures.py: `head_conv` overflows FP16 and `rescale`
brings its FP32 output back; keeping both in FP32 passes). Real runs, real regressions:

- the same model and data passes, with the same numbers twice;
- a plan keeping one more node in FP32 passes, with a lower error there;
- a plan keeping one fewer fails, and the new error starts at that node;
- a candidate target whose one layer has perturbed weights fails, and names that layer;
- --against golden compares the candidate's outputs with the baseline's golden outputs.
"""

from __future__ import annotations

import json
from pathlib import Path

import junitparser
import numpy as np
import onnx
import pytest
from onnx import numpy_helper

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "fixtures" / "demo_convnet.onnx"
FIXED = ("--emulate", "fp16", "--keep-fp32", "head_conv", "--keep-fp32", "rescale")


def perturbed(path: Path, node: str = "block_conv", model: Path = DEMO) -> Path:
    """The model with `node`'s weights perturbed by 5 % noise: a re-export with one bad layer."""
    proto = onnx.load(str(model))
    weight = next(i for i in proto.graph.initializer if i.name == f"{node}.weight")
    values = numpy_helper.to_array(weight)
    noisy = values + np.random.default_rng(3).normal(0, 0.05, values.shape) * np.abs(values)
    weight.CopyFrom(numpy_helper.from_array(noisy.astype(np.float32), weight.name))
    onnx.save(proto, str(path))
    return path


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from click.testing import CliRunner

    from trtdiff.cli import cli

    folder = tmp_path_factory.mktemp("baseline") / "demo"
    result = CliRunner().invoke(cli, ["baseline", "save", str(DEMO), *FIXED, "--mark-all", "--iterations", "3",
                                      "--no-progress", "-o", str(folder)])
    assert result.exit_code == 0, result.output
    return folder


def gate(cli_run, baseline: Path, tmp_path: Path, *args: object) -> tuple[int, dict]:
    out = tmp_path / "check.json"
    result = cli_run("check", DEMO, "--baseline", baseline, "--json", out, *args)
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(out.read_text())["gate"]


def test_baseline_save_writes_the_profile_settings_and_golden_outputs(baseline: Path) -> None:
    assert sorted(p.name for p in baseline.iterdir()) == ["baseline.json", "outputs.npz"]
    data = json.loads((baseline / "baseline.json").read_text())
    assert [row["name"] for row in data["profile"]][:3] == ["stem_out", "stem_relu", "block_out"]
    assert [row["index"] for row in data["profile"]] == sorted(row["index"] for row in data["profile"])
    assert data["data"]["count"] == 3 and data["data"]["source"] == "generated" and data["data"]["hash"]
    assert data["options"]["keep_fp32"] == ["head_conv", "rescale"] and data["options"]["emulate"] == "fp16"
    assert data["model"]["digest"].startswith("sha256:") and data["target"]["plan"]["default"] == "fp16"
    assert {"trtdiff", "onnx", "onnxruntime", "onnxruntime providers", "tensorrt"} <= set(data["environment"])
    with np.load(baseline / "outputs.npz") as golden:
        assert {k for k in golden.files if k.startswith("target:")} == {f"target:{i}:probs" for i in range(3)}


def test_same_model_and_data_pass_with_the_same_numbers(cli_run, baseline: Path, tmp_path: Path) -> None:
    code, first = gate(cli_run, baseline, tmp_path)
    assert code == 0 and first["passed"] and first["first_regression"] is None
    assert all(t["baseline"] == t["candidate"] for t in first["tensors"])
    code, second = gate(cli_run, baseline, tmp_path)
    assert second["tensors"] == first["tensors"] and second["outputs"] == first["outputs"]


def test_one_more_node_in_fp32_passes_with_lower_error(cli_run, baseline: Path, tmp_path: Path) -> None:
    code, data = gate(cli_run, baseline, tmp_path, *FIXED, "--keep-fp32", "block_conv")
    assert code == 0 and data["no_new_error"]
    tensors = {t["name"]: t for t in data["tensors"]}
    assert tensors["block_out"]["candidate"] < tensors["block_out"]["baseline"]
    assert data["outputs"][0]["candidate"] <= data["outputs"][0]["baseline"]


def test_one_fewer_node_in_fp32_fails_at_that_node(cli_run, baseline: Path, tmp_path: Path) -> None:
    junit, summary = tmp_path / "ci" / "junit.xml", tmp_path / "ci" / "summary.md"
    code, data = gate(cli_run, baseline, tmp_path, "--emulate", "fp16", "--keep-fp32", "rescale",
                      "--junit", junit, "--markdown", summary)
    assert code == 1 and not data["passed"]
    assert data["first_regression"]["node"] == "head_conv"
    xml = junitparser.JUnitXml.fromfile(str(junit))
    cases = {case.name: case for suite in xml for case in suite}
    assert not cases["output probs"].is_passed and not cases["no new error introduced"].is_passed
    assert "head_conv" in cases["no new error introduced"].result[0].message
    assert "**New error starts at** `head_out` (`Conv` node `head_conv`, #5)" in summary.read_text()


def test_a_perturbed_layer_fails_and_is_named_where_the_error_starts(cli_run, baseline: Path, tmp_path: Path) -> None:
    candidate = perturbed(tmp_path / "reexported.onnx")
    code, data = gate(cli_run, baseline, tmp_path, "--target-model", candidate)
    assert code == 1 and data["outputs"][0]["regressed"]
    assert data["first_regression"]["node"] == "block_conv"


def test_against_golden_outputs(cli_run, baseline: Path, tmp_path: Path) -> None:
    code, data = gate(cli_run, baseline, tmp_path, "--against", "golden")
    assert code == 0 and data["golden"]["passed"]
    candidate = perturbed(tmp_path / "reexported.onnx", node="fc")
    junit = tmp_path / "junit.xml"
    code, data = gate(cli_run, baseline, tmp_path, "--against", "golden", "--target-model", candidate,
                      "--junit", junit)
    assert code == 1 and data["golden"]["passed"] is False
    cases = {case.name: case for suite in junitparser.JUnitXml.fromfile(str(junit)) for case in suite}
    assert not cases["output probs matches golden"].is_passed


def test_against_golden_on_other_data_is_refused_for_what_it_is(cli_run, baseline: Path, tmp_path: Path) -> None:
    """The golden outputs are of the baseline's samples: on other data (--allow-different-data)
    comparing with them means nothing, and the line says so in the baseline's terms."""
    result = cli_run("check", DEMO, "--baseline", baseline, "--against", "golden", "--seed", "7",
                     "--allow-different-data", "--json", tmp_path / "c.json")
    assert result.exit_code == 2, result.output
    assert "--against golden needs the baseline's own data" in result.output and "--against reference" in result.output
    assert not (tmp_path / "c.json").exists()
    code, data = gate(cli_run, baseline, tmp_path, "--seed", "7", "--allow-different-data")
    assert data["golden"] is None  # against the reference, other data is allowed


def test_names_that_look_like_markup_are_printed_as_they_are(cli_run, tmp_path: Path) -> None:
    """A baseline folder and output names are the user's strings: 'b[/x]' crashed the
    "baseline written" line (rich markup) after the baseline was written."""
    folder = tmp_path / "b[/x]"
    result = cli_run("baseline", "save", DEMO, *FIXED, "--no-progress", "-o", folder)
    assert result.exit_code == 0, result.output
    assert f"baseline written to {folder} (1 tensor, 1 sample)" in " ".join(result.output.split())
    result = cli_run("check", DEMO, "--baseline", folder, "--against", "golden", "--emulate", "fp16", "--no-progress")
    assert result.exit_code == 1 and "against golden outputs: FAIL probs" in result.output, result.output


def test_a_reexported_model_with_renamed_tensors_is_matched_by_name(cli_run, baseline: Path, tmp_path: Path) -> None:
    proto = onnx.load(str(DEMO))
    for node in proto.graph.node:  # rename one intermediate tensor everywhere
        node.input[:] = ["stem_renamed" if n == "stem_relu" else n for n in node.input]
        node.output[:] = ["stem_renamed" if n == "stem_relu" else n for n in node.output]
    model = tmp_path / "renamed.onnx"
    onnx.save(proto, str(model))
    refused = cli_run("check", model, "--baseline", baseline)
    assert refused.exit_code == 2 and "--allow-model-change" in refused.stderr
    out = tmp_path / "check.json"
    result = cli_run("check", model, "--baseline", baseline, "--allow-model-change", "--json", out)
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())["gate"]
    assert data["appeared"] == ["stem_renamed"] and data["vanished"] == ["stem_relu"]
    assert data["baseline_info"]["model_changed"] is True


def test_report_shows_the_gate_section(cli_run, baseline: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    cli_run("check", DEMO, "--baseline", baseline, "--emulate", "fp16", "--keep-fp32", "rescale", "--mark-all",
            "--report", report)
    html = report.read_text()
    assert '<section id="gate">' in html and "gate fails" in html
    assert 'aria-label="baseline and candidate per-layer error chart"' in html
    assert "New error starts at <span class=\"name\">head_out</span>" in html


def test_python_api(baseline: Path) -> None:
    import trtdiff

    result = trtdiff.check(DEMO, baseline=baseline, emulate="fp16", keep_fp32=("rescale",), mark_all=True)
    assert result.passed is False and isinstance(result, trtdiff.CheckResult)
    assert result.first_regression is not None and result.first_regression.node == "head_conv"
    assert result.first_regression in result.regressions
    frame = result.to_dataframe()
    assert list(frame["name"][:3]) == ["stem_out", "stem_relu", "block_out"]
    assert frame["baseline"].dtype == np.float64
    assert int((frame["regressed"] | frame["new_nonfinite"]).sum()) == len(result.regressions)
    assert trtdiff.check(DEMO, baseline=baseline).passed
