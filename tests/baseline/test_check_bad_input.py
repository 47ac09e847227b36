"""Bad input to `trtdiff check` and `trtdiff baseline save`, each through the CLI: one line on
stderr, exit 2 (usage) or 3 (model), and nothing left behind (no JUnit, JSON, markdown or
baseline file written, no temporary left over)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import onnx
import pytest
from model_builders import conv_relu_model

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "fixtures" / "demo_convnet.onnx"
OUTPUTS = ("--junit", "ci/junit.xml", "--json", "ci/check.json", "--markdown", "ci/summary.md")


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from click.testing import CliRunner

    from trtdiff.cli import cli

    folder = tmp_path_factory.mktemp("saved") / "base"
    result = CliRunner().invoke(cli, ["baseline", "save", str(DEMO), "--emulate", "fp16", "--keep-fp32", "head_conv",
                                      "--keep-fp32", "rescale", "--iterations", "2", "--no-progress", "-o", str(folder)])
    assert result.exit_code == 0, result.output
    return folder


def one_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("trtdiff: error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def prepare(tmp_path: Path, saved: Path) -> None:
    """The files a case may point at: a copy of the baseline, a corrupt one, other models."""
    shutil.copytree(saved, tmp_path / "base")
    (tmp_path / "corrupt").mkdir()
    (tmp_path / "corrupt" / "baseline.json").write_text('{"format": 1, "profile": [')
    shutil.copytree(saved, tmp_path / "newer")
    data = json.loads((tmp_path / "newer" / "baseline.json").read_text())
    data["format"] = 99
    (tmp_path / "newer" / "baseline.json").write_text(json.dumps(data))
    onnx.save(conv_relu_model(), str(tmp_path / "other.onnx"))
    (tmp_path / "afile").write_text("not a folder")


CASES = [
    (["check", DEMO, "--baseline", "missing"], 2, "cannot read the baseline missing: no such directory"),
    (["check", DEMO, "--baseline", "corrupt"], 2, "corrupt/baseline.json is not valid JSON"),
    (["check", DEMO, "--baseline", "newer"], 2, "was written by a newer trtdiff"),
    (["check", "other.onnx", "--baseline", "base"], 2, "was saved for another model"),
    (["check", DEMO, "--baseline", "base", "--iterations", "3"], 2, "the data set differs from the baseline's"),
    (["check", DEMO, "--baseline", "base", "--seed", "7"], 2, "the data set differs from the baseline's"),
    (["check", "other.onnx", "--baseline", "base", "--emulate", "fp16", "--allow-model-change",
      "--allow-different-data"], 2,
     "shares no compared tensor"),
    (["check", DEMO, "--baseline", "base", "--max-regression", "-0.5"], 2, "--max-regression '-0.5' is not usable"),
    (["check", DEMO, "--baseline", "base", "--max-regression", "lots"], 2, "--max-regression 'lots' is not a number"),
    (["check", DEMO, "--baseline", "base", "--junit", "afile/junit.xml"], 2, "cannot create the folder for --junit"),
    (["check", DEMO, "--baseline", "base", "--against", "gold"], 2, "unknown --against 'gold'"),
    (["check", "missing.onnx", "--baseline", "base"], 2, "model file not found"),
    (["baseline", "save", DEMO, "--emulate", "fp16", "-o", "afile"], 2, "afile is a file"),
    (["baseline", "save", DEMO, "-o", "new"], 2, "no target given"),
    (["baseline", "save", "corrupt/baseline.json", "--fp16", "-o", "new"], 3, "cannot read"),
]


@pytest.mark.parametrize("args, code, message", CASES, ids=[c[2][:40] for c in CASES])
def test_bad_input_is_one_line_and_leaves_nothing(cli_run, saved: Path, tmp_path: Path, monkeypatch,
                                                  args: list, code: int, message: str) -> None:
    monkeypatch.chdir(tmp_path)
    prepare(tmp_path, saved)
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    extra = [] if args[0] == "baseline" else list(OUTPUTS)
    result = cli_run(*args[:2], *extra, *args[2:])  # the case's own options come last, so they win
    assert result.exit_code == code, result.output
    assert message in one_line(result)
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")} == before


def test_a_relative_path_of_the_baseline_missing_here_is_said_as_the_baseline_s(cli_run, tmp_path: Path,
                                                                             monkeypatch) -> None:
    """`check` run from another directory than `baseline save` said "cannot read fixed/plan.json:
    no such file. Write it with `trtdiff plan export`", as if the user had typed the path."""
    import numpy as np

    saved_in, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    (saved_in / "val").mkdir(parents=True)
    elsewhere.mkdir()
    np.savez(saved_in / "val" / "s0.npz", images=np.zeros((1, 3, 32, 32), np.float32))
    monkeypatch.chdir(saved_in)
    saved = cli_run("baseline", "save", DEMO, "--emulate", "fp16", "--keep-fp32", "head_conv", "--keep-fp32",
                    "rescale", "--load-inputs", "val/", "--no-progress", "-o", "base")
    assert saved.exit_code == 0, saved.output
    monkeypatch.chdir(elsewhere)
    result = cli_run("check", DEMO, "--baseline", saved_in / "base")
    assert result.exit_code == 2
    line = one_line(result)
    assert "the baseline's --load-inputs val/ does not exist here" in line and "give --load-inputs again" in line
    again = cli_run("check", DEMO, "--baseline", saved_in / "base", "--load-inputs", saved_in / "val")
    assert again.exit_code == 0, again.output  # the same data set, given again
