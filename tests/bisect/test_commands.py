"""The `trtdiff bisect`, `trtdiff bisect reduce` and `trtdiff split` commands end to end."""

from __future__ import annotations

import json
import shlex

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from bisect_helpers import FIXTURES

pytest.importorskip("trtdiff.options.precision", reason="needs the precision-plan options (issue 3)")
pytest.importorskip("trtdiff.options.data", reason="needs the shared input/tolerance options (issue 2)")

from trtdiff.commands.bisect import bisect_group  # noqa: E402
from trtdiff.commands.split import split_command  # noqa: E402

INPUTS = str(FIXTURES / "inputs.npz")
# out-of-range constants are the planted faults: clamp them instead of letting the plan keep them
COMMON = ["--emulate", "fp16", "--out-of-range", "clamp", "--atol", "1e-2", "--rtol", "0",
          "--load-inputs", INPUTS]


def _program():
    """The real error boundary (trtdiff.cli.TrtDiffGroup) around the commands under test."""
    from trtdiff.cli import TrtDiffGroup
    from trtdiff.commands.run import run_command

    group = TrtDiffGroup("trtdiff")
    group.add_command(bisect_group)
    group.add_command(split_command)
    group.add_command(run_command)
    return group


def invoke(command, args):
    """`command` through the error boundary: a TrtDiffError is exit 2/3 with its line, as in the
    program (called bare, CliRunner would report any exception as exit code 1, a mismatch)."""
    from trtdiff.commands.run import run_command

    name = {bisect_group: "bisect", split_command: "split", run_command: "run"}.get(command)
    if name is None:  # another command: call it directly
        return CliRunner().invoke(command, args)
    return CliRunner().invoke(_program(), [name, *args])


def fixture(kind: str) -> str:
    return str(FIXTURES / f"{kind}.onnx")


def test_bisect_json_names_the_culprits_and_writes_the_fixed_model(tmp_path):
    out = tmp_path / "bisect.json"
    result = invoke(bisect_group, [fixture("two_culprits"), *COMMON, "--json", str(out), "-o", str(tmp_path),
                                   "--no-progress"])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert data["passed"] is True
    assert sorted(n["node"] for n in data["fp32_nodes"]) == ["culprit_div_a", "culprit_div_b"]
    assert data["evaluations"] >= 2 and data["outputs_before"] and data["outputs_after"]
    assert data["exports"], "the plan's export formats are missing"
    fixed = onnx.load(data["files"]["model"])
    onnx.checker.check_model(fixed)


def test_bisect_prints_node_names_that_look_like_markup(tmp_path):
    """Node names are the model's own strings: `culprit[/div]` is printed as it is, not read as a
    rich closing tag (which crashed the table with an internal error after the files were written)."""
    model = onnx.load(fixture("one_culprit"))
    for node in model.graph.node:
        node.name = {"culprit_div": "culprit[/div]", "tanh_3": "tanh[red]"}.get(node.name, node.name)
    path = tmp_path / "markup.onnx"
    onnx.save(model, str(path))
    result = invoke(bisect_group, [str(path), *COMMON, "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "culprit[/div]" in result.output and "evaluations: " in result.output


def test_bisect_paired_overflow_with_the_default_plan(tmp_path):
    result = invoke(bisect_group, [fixture("paired_overflow"), "--emulate", "fp16", "--atol", "1e-2", "--rtol", "0",
                                   "--load-inputs", INPUTS, "--json", "-", "--no-progress"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert sorted(n["node"] for n in data["fp32_nodes"]) == ["root", "square"]
    # attribution ranks `square` first; `root`, which reads its overflowing output, is moved up
    assert "moved up (root)" in data["ranking"] and data["evaluations"] == 4
    why = {n["node"]: n["reason"] for n in data["fp32_nodes"]}
    assert "overflows fp16" in why["square"] and "past the type's range" in why["root"]


def test_unknown_keep_fp32_node_is_a_usage_error():
    result = invoke(bisect_group, [fixture("one_culprit"), *COMMON, "--keep-fp32", "culprit_dvi"])
    assert result.exit_code == 2 and "culprit_div" in result.output


def test_state_from_another_model_is_refused(tmp_path):
    state = tmp_path / "state.json"
    first = invoke(bisect_group, [fixture("one_culprit"), *COMMON, "--state", str(state), "--no-progress"])
    assert first.exit_code == 0, first.output
    again = invoke(bisect_group, [fixture("two_culprits"), *COMMON, "--state", str(state), "--no-progress"])
    assert again.exit_code == 2 and "another model" in again.output


def _patch_target_infer(monkeypatch, change) -> None:
    """Route every inference of the target runner (the one bisect evaluates plans with) through `change`."""
    from trtdiff.runners.onnxrt import OnnxRuntimeRunner

    real = OnnxRuntimeRunner.infer
    monkeypatch.setattr(OnnxRuntimeRunner, "infer",
                        lambda self, feeds: change(real(self, feeds)) if self.name == "target" else real(self, feeds))


def test_ctrl_c_saves_state_and_prints_how_to_resume(tmp_path, monkeypatch):
    calls = []

    def flaky(outputs):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return outputs

    _patch_target_infer(monkeypatch, flaky)
    monkeypatch.chdir(tmp_path)
    result = invoke(bisect_group, [fixture("two_culprits"), *COMMON, "--no-progress"])
    assert result.exit_code == 130
    assert "Resume with:" in result.output and "--state" in result.output
    state = tmp_path / "two_culprits.bisect-state.json"
    assert len(json.loads(state.read_text())["evaluations"]) == 3
    resumed = invoke(bisect_group, [fixture("two_culprits"), *COMMON, "--no-progress", "--state", str(state),
                                    "--json", "-"])
    assert resumed.exit_code == 0, resumed.output
    data = json.loads(resumed.output)
    assert data["evaluations"] == data["evaluations_this_run"] + 3


def test_all_fp32_failing_exits_1_and_says_why(monkeypatch):
    """A target that differs for another reason: here its backend adds 0.1 to every output."""
    _patch_target_infer(monkeypatch, lambda outputs: {k: v + np.float32(0.1) for k, v in outputs.items()})
    result = invoke(bisect_group, [fixture("one_culprit"), *COMMON, "--no-progress"])
    assert result.exit_code == 1, result.output
    assert "even with all" in result.output


def test_reduce_saves_a_model_and_inputs_that_reproduce(tmp_path):
    result = invoke(bisect_group, ["reduce", fixture("one_culprit"), "--emulate", "fp16", "--out-of-range", "clamp",
                                   "--atol", "1e-2", "--rtol", "1e-2", "--load-inputs", INPUTS,
                                   "-o", str(tmp_path), "--json", str(tmp_path / "r.json")])
    assert result.exit_code == 1, result.output  # the reduced model fails, by design
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["nodes"] == ["culprit_div"] and data["evaluations"] > 0
    assert "trtdiff run" in data["reproduce"] and "--load-inputs" in data["reproduce"]
    with np.load(data["files"]["inputs"]) as inputs:
        assert set(inputs.files) == {i.name for i in onnx.load(data["files"]["model"]).graph.input}
    assert "--emulate fp16 --out-of-range clamp" in data["reproduce"]
    from trtdiff.commands.run import run_command

    if "--emulate" not in {opt for param in run_command.params for opt in param.opts}:
        pytest.skip("`trtdiff run` does not take the precision-plan options yet")
    rerun = invoke(run_command, shlex.split(data["reproduce"])[2:])
    assert rerun.exit_code == 1, rerun.output  # the failure reproduces on its own
    assert "FAIL" in rerun.output


def test_reduce_int8_over_several_samples_reproduces_with_the_same_calibration(tmp_path):
    """INT8 scales come from every sample (or --calibration-data), the reduction from one: the
    reproduce command calibrates the reduced model on its inputs over those samples, saved beside
    it, so it fails with the very numbers reduce reported (calibrated on the one saved sample, the
    demo's first conv gave max_abs 0.0309 instead of 0.0273)."""
    from trtdiff.commands.run import run_command

    demo = str(FIXTURES.parent / "demo_convnet.onnx")
    args = ["reduce", demo, "--emulate", "int8", "--iterations", "4", "-o", str(tmp_path / "r"),
            "--json", str(tmp_path / "r.json")]
    assert invoke(bisect_group, args).exit_code == 1
    data = json.loads((tmp_path / "r.json").read_text())
    folder = tmp_path / "r" / "reduced_calibration"
    assert data["files"]["calibration"] == str(folder) and len(list(folder.glob("*.npz"))) == 4
    assert f"--calibration-data {folder}" in data["reproduce"]
    (output, reported), = data["failure"]["outputs"].items()
    words = shlex.split(data["reproduce"])[2:] + ["--json", str(tmp_path / "rerun.json")]
    assert invoke(run_command, words).exit_code == 1
    rerun = json.loads((tmp_path / "rerun.json").read_text())
    (tensor,) = [t for t in rerun["tensors"] if t["name"] == output]
    assert tensor["max_abs"] == pytest.approx(reported, rel=1e-6)
    assert not any("calibrated on the samples being judged" in w for w in rerun["warnings"])
    again = invoke(bisect_group, args[:4] + ["--iterations", "2"] + args[6:])  # a second reduce replaces the folder
    assert again.exit_code == 1 and len(list(folder.glob("*.npz"))) == 2


def test_reduce_without_calibration_writes_no_calibration_samples(tmp_path):
    result = invoke(bisect_group, ["reduce", fixture("one_culprit"), *COMMON, "-o", str(tmp_path / "r"),
                                   "--json", str(tmp_path / "r.json")])
    assert result.exit_code == 1, result.output
    data = json.loads((tmp_path / "r.json").read_text())
    assert "calibration" not in data["files"] and "--calibration-data" not in data["reproduce"]
    assert not (tmp_path / "r" / "reduced_calibration").exists()


def test_reduce_reproduce_command_keeps_checks_and_only_the_tolerances_of_the_piece(tmp_path):
    """--check is repeatable (written once per value, never as a tuple), and a NAME: tolerance of a
    tensor the reduced model lacks is left out (`trtdiff run` refuses unknown names)."""
    result = invoke(bisect_group, ["reduce", fixture("one_culprit"), "--emulate", "fp16", "--out-of-range", "clamp",
                                   "--atol", "1e-2", "--rtol", "1e-2", "--atol", "tanh_3_out:0.5",
                                   "--check", "elementwise", "--check", "y:cosine:0.9999",
                                   "--load-inputs", INPUTS, "-o", str(tmp_path), "--json", str(tmp_path / "r.json")])
    assert result.exit_code == 1, result.output
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["nodes"] == ["culprit_div"]
    words = shlex.split(data["reproduce"])
    assert "()" not in words and "--check" in words and words[words.index("--check") + 1] == "elementwise"
    assert "tanh_3_out:0.5" not in words and "y:cosine:0.9999" not in words
    from trtdiff.commands.run import run_command

    rerun = invoke(run_command, words[2:])
    assert rerun.exit_code == 1 and "FAIL" in rerun.output, rerun.output


def test_split_command_writes_pieces_and_verifies_them(tmp_path):
    from test_split import mixed_model

    path = tmp_path / "mixed.onnx"
    onnx.save_model(mixed_model(), str(path))
    result = invoke(split_command, [str(path), "-o", str(tmp_path / "parts"), "--json", "-"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [s["supported"] for s in data["segments"]] == [True, False, True]
    assert data["verified_max_abs"] == 0.0
    assert (tmp_path / "parts" / "summary.json").exists()


def test_html_report_shows_the_bisect_results(tmp_path):
    pytest.importorskip("trtdiff.report.html", reason="needs the HTML report")
    report = tmp_path / "bisect.html"
    result = invoke(bisect_group, [fixture("one_culprit"), *COMMON, "--no-progress", "--report", str(report)])
    assert result.exit_code == 0, result.output
    html = report.read_text()
    assert "culprit_div" in html and "keep" in html.lower()


def test_ranking_file_seeds_the_search(tmp_path):
    ranking = tmp_path / "ranking.txt"
    ranking.write_text("# worst first\nculprit_div\nmatmul_1\n")
    result = invoke(bisect_group, [fixture("one_culprit"), *COMMON, "--no-progress", "--ranking", str(ranking),
                                   "--json", "-"])
    data = json.loads(result.output)
    assert [n["node"] for n in data["fp32_nodes"]] == ["culprit_div"] and data["evaluations"] == 2
    assert data["ranking"] == "given"


def test_reduce_a_target_that_errors_out(tmp_path):
    """ONNX Runtime's CPU provider has no BF16 MatMul: the native BF16 model fails to load, and
    reduce cuts it down to the first MatMul."""
    out = tmp_path / "r.json"
    result = invoke(bisect_group, ["reduce", fixture("one_culprit"), "--bf16", "--native", "--fail-on", "error",
                                   "--load-inputs", INPUTS, "-o", str(tmp_path), "--json", str(out)])
    if result.exit_code == 2 and "nothing to reduce" in result.output:
        pytest.skip("this ONNX Runtime runs BF16 MatMul on CPU")
    assert result.exit_code == 1, result.output
    data = json.loads(out.read_text())
    assert data["nodes"] == ["matmul_1"] and "MatMul" in data["failure"]["error"]


def test_quiet_prints_the_verdict_line_alone(tmp_path):
    """-q on bisect and bisect reduce: their first line (what was found) and nothing else; the
    files are still written."""
    found = invoke(bisect_group, [fixture("one_culprit"), *COMMON, "--no-progress", "-o", str(tmp_path / "fixed"),
                                  "-q"])
    assert found.exit_code == 0, found.output
    assert found.stdout.strip().splitlines() == [found.stdout.strip().splitlines()[0]]
    assert found.stdout.startswith("keeping 1 of ") and (tmp_path / "fixed" / "plan.json").exists()
    reduced = invoke(bisect_group, ["reduce", fixture("one_culprit"), *COMMON, "-o", str(tmp_path / "r"), "-q"])
    assert reduced.exit_code == 1 and len(reduced.stdout.strip().splitlines()) == 1, reduced.output
    assert reduced.stdout.startswith("reduced ") and (tmp_path / "r" / "reduced.onnx").exists()
