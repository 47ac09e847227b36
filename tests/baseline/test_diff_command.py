"""`trtdiff diff OLD NEW` through the CLI: exit codes, the CI files it writes, and bad input (one
line on stderr, exit 2, nothing written)."""

from __future__ import annotations

import json
from pathlib import Path

import junitparser
import pytest
from gate_factory import chain, comparison

from trtdiff.baseline.load import load_baseline
from trtdiff.baseline.profile import profile_from_comparison
from trtdiff.baseline.store import Baseline, write_baseline
from trtdiff.result import comparison_to_json


def saved_result(path: Path, **errors: float) -> Path:
    path.write_text(comparison_to_json(comparison(chain(5, **errors))))
    return path


def one_error_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("trtdiff: error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def test_diff_writes_junit_markdown_and_json_and_exits_1_on_regression(cli_run, tmp_path: Path) -> None:
    old, new = saved_result(tmp_path / "old.json"), saved_result(tmp_path / "new.json", t2=4e-4, out=4e-4)
    out = tmp_path / "ci"
    result = cli_run("diff", old, new, "--junit", out / "junit.xml", "--markdown", out / "summary.md",
                     "--json", out / "gate.json")
    assert result.exit_code == 1, result.output
    assert "new error starts at 't2'" in result.stdout
    xml = junitparser.JUnitXml.fromfile(str(out / "junit.xml"))
    assert (xml.tests, xml.failures) == (2, 2)
    assert "## trtdiff diff: FAIL" in (out / "summary.md").read_text()  # titled by the command that wrote it
    assert xml.name == "trtdiff diff" and all(suite.name.startswith("trtdiff diff: ") for suite in xml)
    assert json.loads((out / "gate.json").read_text())["first_regression"]["name"] == "t2"


def test_diff_passes_within_the_margin_and_takes_percentages(cli_run, tmp_path: Path) -> None:
    old, new = saved_result(tmp_path / "old.json"), saved_result(tmp_path / "new.json", out=1.4e-4)
    assert cli_run("diff", old, new).exit_code == 1
    assert cli_run("diff", old, new, "--max-regression", "50%").exit_code == 0
    assert cli_run("diff", old, new, "--max-regression", "0.5").exit_code == 0


def test_diff_reads_a_baseline_directory_as_the_old_side(cli_run, tmp_path: Path) -> None:
    result = comparison(chain(5))
    baseline = Baseline("0.1.0", "", "model.onnx", "sha256:00", "fp16", None, {}, {},
                        profile_from_comparison(result))
    write_baseline(baseline, tmp_path / "base", golden=None)
    assert load_baseline(tmp_path / "base").profile.tensors
    new = saved_result(tmp_path / "new.json", t1=9e-4)
    run = cli_run("diff", tmp_path / "base", new, "--fail-on", "all")
    assert run.exit_code == 1 and "new error starts at 't1'" in run.stdout


@pytest.mark.parametrize("args, message", [
    (["missing.json", "new.json"], "cannot read missing.json: no such file"),
    (["corrupt.json", "new.json"], "corrupt.json is not valid JSON"),
    (["old.json", "new.json", "--max-regression", "-0.1"], "--max-regression '-0.1' is not usable"),
    (["old.json", "new.json", "--max-regression", "ten"], "--max-regression 'ten' is not a number"),
    (["old.json", "new.json", "--regression-floor", "nan"], "--regression-floor 'nan' is not usable"),
    (["old.json", "new.json", "--gate-metric", "out:worst"], "unknown gate metric 'worst'"),
    (["old.json", "new.json", "--junit", "afile/junit.xml"], "cannot create the folder for --junit"),
    (["old.json", "other.json"], "shares no compared tensor"),
    (["badfield.json", "new.json"], "badfield.json is not a usable trtdiff result: field 'tensors[1].max_abs' should be"),
    (["newer.json", "new.json"], "newer.json was written by a newer trtdiff"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(cli_run, tmp_path: Path, monkeypatch, args, message) -> None:
    monkeypatch.chdir(tmp_path)
    saved_result(tmp_path / "old.json")
    saved_result(tmp_path / "new.json")
    (tmp_path / "other.json").write_text(comparison_to_json(comparison({"x": 1e-4, "y": 1e-4}, outputs=("y",))))
    (tmp_path / "corrupt.json").write_text('{"tensors": [')
    (tmp_path / "afile").write_text("not a folder")
    data = json.loads((tmp_path / "old.json").read_text())
    data["tensors"][1]["max_abs"] = [1]
    (tmp_path / "badfield.json").write_text(json.dumps(data))
    data["schema_version"] = 99
    (tmp_path / "newer.json").write_text(json.dumps(data))
    before = sorted(p.name for p in tmp_path.iterdir())
    result = cli_run("diff", *args, "--json", "gate.json", "--markdown", "summary.md")
    assert result.exit_code == 2
    assert message in one_error_line(result)
    assert sorted(p.name for p in tmp_path.iterdir()) == before
