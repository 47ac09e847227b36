"""`trtdiff run --mark-all` with attribution through the real click group: JSON `local` objects
and a ranked `offenders` list, the terminal's first divergence and top offenders with hints."""

from __future__ import annotations

import json

from attribution_helpers import build, save

from trtdiff.result import comparison_from_json

METRIC_KEYS = {"max_abs", "mean_abs", "median_abs", "p99_abs", "max_rel", "mean_rel", "cosine", "snr_db",
               "mismatches", "nan_ref", "nan_target", "inf_ref", "inf_target", "ref_max_abs"}


def test_json_has_local_per_tensor_and_ranked_offenders(cli_run, tmp_path):
    model = save(build.two_culprits(), tmp_path / "two.onnx")
    out = tmp_path / "r.json"
    result = cli_run("run", model, "--fp16", "--mark-all", "--json", out)
    assert result.exit_code == 1, result.output
    data = json.loads(out.read_text())
    for tensor in data["tensors"]:
        assert METRIC_KEYS <= set(tensor["local"]), tensor["name"]
        assert "amplification" in tensor and "hints" in tensor
    square = next(t for t in data["tensors"] if t["name"] == "a_square")
    assert square["local"]["inf_target"] > 0 and square["hints"][0]["kind"] == "overflow"
    assert square["hints"][0]["figures"]["type_max"] == 65504.0
    offenders = data["offenders"]
    assert [o["rank"] for o in offenders] == list(range(1, len(offenders) + 1))
    assert [o["node"] for o in offenders[:2]] == ["a_square", "b_shrink"]
    assert offenders[0]["score"] == "inf" and offenders[1]["hints"] == ["underflow"]
    again = comparison_from_json(out.read_text())
    assert again.offenders[0].node == "a_square" and again.tensor("a_square").local is not None


def test_terminal_shows_first_divergence_and_offenders_with_hints(cli_run, tmp_path):
    model = save(build.cancellation(), tmp_path / "c.onnx")
    result = cli_run("run", model, "--fp16", "--mark-all")
    assert result.exit_code == 1, result.output
    text = result.output
    assert "local" in text and "amp" in text
    assert "First divergence: 'centered'" in text
    offenders = text[text.index("Top offenders"):]
    assert "1. 'centered' (Sub, #2)" in offenders and "cancellation:" in offenders
    assert "'shifted'" in offenders  # the hint names the large input


def test_no_attribute_and_default_off_without_mark_all(cli_run, tmp_path):
    model = save(build.overflow(), tmp_path / "o.onnx")
    off = tmp_path / "off.json"
    result = cli_run("run", model, "--fp16", "--mark-all", "--no-attribute", "--json", off)
    assert result.exit_code == 1 and "Top offenders" not in result.output
    data = json.loads(off.read_text())
    assert data["offenders"] == [] and all(t["local"] is None for t in data["tensors"])
    plain = cli_run("run", model, "--fp16")
    assert "Top offenders" not in plain.output
    forced = cli_run("run", model, "--fp16", "--attribute", "--outputs", "square", "--memory-budget", "64K")
    assert "1. 'square' (Mul, #1) score inf" in forced.output


def test_mark_all_attributes_only_when_the_verdict_fails_unless_asked(cli_run, tmp_path):
    model = save(build.cancellation(), tmp_path / "c.onnx")
    loose = ("--atol", "1e3", "--rtol", "1")  # the planted error is within these: the verdict passes
    skipped, asked = tmp_path / "skipped.json", tmp_path / "asked.json"
    result = cli_run("run", model, "--fp16", "--mark-all", *loose, "--json", skipped)
    assert result.exit_code == 0 and "Attribution skipped: the verdict passed" in result.output
    data = json.loads(skipped.read_text())
    assert data["offenders"] == [] and all(t["local"] is None for t in data["tensors"])
    assert data["settings"]["attribution"].startswith("skipped")
    result = cli_run("run", model, "--fp16", "--mark-all", *loose, "--attribute", "--json", asked)
    assert result.exit_code == 0 and "Top offenders" in result.output
    data = json.loads(asked.read_text())
    assert data["settings"]["attribution"] == "on" and data["offenders"][0]["node"] == "centered"
    failing = tmp_path / "failing.json"
    assert cli_run("run", model, "--fp16", "--mark-all", "--json", failing).exit_code == 1
    data = json.loads(failing.read_text())
    assert data["settings"]["attribution"] == "on" and data["offenders"][0]["node"] == "centered"
    assert data["timings"]["attribution_s"] > 0


def test_bad_memory_budget_is_a_usage_error(cli_run, tmp_path):
    model = save(build.overflow(), tmp_path / "o.onnx")
    result = cli_run("run", model, "--fp16", "--mark-all", "--memory-budget", "lots")
    assert result.exit_code == 2 and "memory budget" in result.output
