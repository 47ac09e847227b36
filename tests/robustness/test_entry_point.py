"""The installed `trtdiff` entry point behaves as the in-process corpus says: the same exit code and
the same error line for a sample of cases (one per kind), a traceback only with -vv, and quiet
stderr on a passing INT8 run whose calibration ONNX Runtime would otherwise talk about."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from corpus import build_workspace, copy_workspace, add_files, error_lines, invoke, snapshot
from test_bad_inputs import CASES

SAMPLE = ("model-cycle", "inputs-polygraphy-array-not-base64", "seed-negative", "shapes-too-large-for-memory",
          "load-engine-on-onnxruntime", "plan-per-channel-no", "report-passed-maybe", "state-newer-version",
          "json-over-the-model", "unknown-group-option")

pytestmark = pytest.mark.slow


def _trtdiff() -> list[str]:
    script = Path(sys.executable).with_name("trtdiff")
    return [str(script)] if script.exists() else [sys.executable, "-m", "trtdiff"]


def _real(args: list[str] | tuple[str, ...], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*_trtdiff(), *args], cwd=cwd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "COLUMNS": "160"})


def _stable(lines) -> list[str]:
    """Lines with the free memory masked: it changes between two calls."""
    return [re.sub(r"has [0-9.]+ \w+ of memory", "has N of memory", line) for line in lines]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    folder = tmp_path_factory.mktemp("entry")
    build_workspace(folder)
    return folder


@pytest.mark.parametrize("name", SAMPLE)
def test_the_real_entry_point_gives_the_same_exit_and_line(name, workspace, tmp_path, monkeypatch):
    bad = next(c for c in CASES if c.id == name)
    copy_workspace(workspace, tmp_path)
    add_files(tmp_path, bad.files)
    before = snapshot(tmp_path)
    real = _real(bad.args, tmp_path)
    monkeypatch.chdir(tmp_path)
    inside = invoke(bad.args)
    assert real.returncode == inside.exit_code == bad.code, real.stderr
    assert "Traceback" not in real.stderr
    assert _stable(error_lines(real.stderr)) == _stable(line.replace("`cli ", "`trtdiff ")
                                                        for line in error_lines(inside.stderr))
    assert snapshot(tmp_path) == before


def test_minus_vv_adds_the_traceback_and_keeps_one_error_line(workspace, tmp_path):
    copy_workspace(workspace, tmp_path)
    real = _real(["-vv", "run", "m.onnx", "--fp16", "--load-inputs", "nope.npz"], tmp_path)
    assert real.returncode == 2 and "Traceback" in real.stderr and len(error_lines(real.stderr)) == 1


def test_a_passing_int8_run_keeps_stderr_quiet_and_minus_v_shows_why(tmp_path):
    """A calibration on this model makes ONNX Runtime log "Removing initializer '<uuid>'" about its
    own augmented model, and NaN inputs make numpy warn: neither is the user's business unless -v."""
    from node_cases import node_cases

    case = next(c for c in node_cases() if c.name == "test_attention_3d_transpose_verification_expanded")
    model, inputs = case.save(tmp_path)
    args = ["run", str(model), "--emulate", "int8", "--mark-all", "--load-inputs", str(inputs)]
    quiet = _real(args, tmp_path)
    assert quiet.returncode == 0, quiet.stderr
    assert "Removing initializer" not in quiet.stderr and "RuntimeWarning" not in quiet.stderr, quiet.stderr
    verbose = _real(["-v", *args], tmp_path)
    assert verbose.returncode == 0 and "Removing initializer" in verbose.stderr
