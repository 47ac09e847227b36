"""`trtdiff report RESULT.json -o out.html`: reads the `run --json` file; bad input is one line, exit 2."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from report_factory import synthetic_comparison

from trtdiff.commands.report import report_command
from trtdiff.errors import ExitCode, UsageError
from trtdiff.result import comparison_to_json


@pytest.fixture(scope="module")
def result_text():
    return comparison_to_json(synthetic_comparison(30))


def test_report_command_writes_the_report(tmp_path, result_text):
    result = tmp_path / "result.json"
    result.write_text(result_text)
    out = tmp_path / "out" / "report.html"
    run = CliRunner().invoke(report_command, [str(result), "-o", str(out)])
    assert run.exit_code == 0, run.output
    assert run.output.strip() == f"report written to {out}"
    page = out.read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert f"trtdiff report {result} -o {out}" in page  # the report says how it was written


def test_report_command_defaults_to_the_result_name(tmp_path, result_text):
    result = tmp_path / "model.json"
    result.write_text(result_text)
    run = CliRunner().invoke(report_command, [str(result)])
    assert run.exit_code == 0, run.output
    assert (tmp_path / "model.html").is_file()


BAD_RESULTS = {
    "missing": None,
    "directory": None,
    "not-json": "{ this is not json",
    "binary": b"\xff\xfe\x00garbage",
    "a-list": "[1, 2, 3]",
    "wrong-shape": json.dumps({"tensors": [], "settings": {"reference": "x"}, "model": "m",
                               "passed": True, "outputs": []}),
    "wrong-types": json.dumps({"tensors": [{"name": "t"}], "settings": {}, "model": "m"}),
    "newer-schema": json.dumps({"tensors": [], "settings": {}, "schema_version": 99}),
}


@pytest.mark.parametrize("case", sorted(BAD_RESULTS))
def test_bad_result_is_one_usage_line(tmp_path, case):
    """A missing, unreadable or foreign file is a UsageError (exit 2) in one line naming the file
    and the fix, and no report is written."""
    result = tmp_path / f"{case}.json"
    content = BAD_RESULTS[case]
    if case == "directory":
        result.mkdir()
    elif isinstance(content, bytes):
        result.write_bytes(content)
    elif content is not None:
        result.write_text(content)
    out = tmp_path / "out.html"
    run = CliRunner().invoke(report_command, [str(result), "-o", str(out)], standalone_mode=False)
    err = run.exception
    assert isinstance(err, UsageError), repr(err)
    assert err.exit_code == ExitCode.USAGE
    line = err.one_line()
    assert "\n" not in line and str(result) in line
    assert "trtdiff run" in line or "Upgrade trtdiff" in line  # the fix is part of the line
    assert not out.exists()


def test_cli_boundary_prints_one_line_and_exits_2(tmp_path, monkeypatch):
    """Through the program's one error boundary (`trtdiff.cli`), registering the command for the
    test if `cli._register` does not yet."""
    from trtdiff import cli

    if "report" not in cli.cli.commands:
        monkeypatch.setitem(cli.cli.commands, "report", report_command)
    run = CliRunner().invoke(cli.cli, ["report", str(tmp_path / "absent.json"), "-o",
                                       str(tmp_path / "x.html")])
    assert run.exit_code == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("trtdiff: error: cannot read"), run.stderr
    assert not (tmp_path / "x.html").exists()


def test_a_result_written_before_the_significant_divergence_gets_it_on_reading(tmp_path, result_text):
    """An older --json has no `significant_divergence`: reading it names one, by the same rule."""
    from trtdiff.report import comparison_from_file

    data = json.loads(result_text)
    expected = data.pop("significant_divergence")
    assert expected == "/blocks.7/attn/Exp_output_0"
    old = tmp_path / "old.json"
    old.write_text(json.dumps(data))
    assert comparison_from_file(old).significant_divergence == expected
    data["significant_divergence"] = None  # a newer file that found none keeps saying so
    old.write_text(json.dumps(data))
    assert comparison_from_file(old).significant_divergence is None
