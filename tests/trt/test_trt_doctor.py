"""`trtdiff doctor`: reports TensorRT (or why it is missing), CUDA, GPU and ONNX Runtime with its
providers; exits 0 unless asked to require something that is missing."""

from __future__ import annotations

import importlib.util
import json

import pytest
from click.testing import CliRunner

from trtdiff.commands.doctor import Check, collect, doctor_command, render
from trtdiff.errors import ToolError

HAS_TRT = importlib.util.find_spec("tensorrt") is not None


def test_doctor_lists_every_component():
    result = CliRunner().invoke(doctor_command, [], catch_exceptions=False)
    assert result.exit_code == 0
    names = [line.split()[0] for line in result.output.splitlines()]
    for expected in ("trtdiff", "python", "tensorrt", "cuda", "gpu", "onnxruntime", "onnx",
                     "polygraphy", "numpy"):
        assert expected in names
    assert "CPUExecutionProvider" in result.output


@pytest.mark.skipif(HAS_TRT, reason="TensorRT is installed here")
def test_doctor_says_why_tensorrt_is_missing_and_what_to_install():
    result = CliRunner().invoke(doctor_command, ["--json"], catch_exceptions=False)
    checks = {c["name"]: c for c in json.loads(result.output)}
    assert checks["tensorrt"]["ok"] is False
    assert "cannot be imported" in checks["tensorrt"]["detail"]
    assert "pip install tensorrt" in checks["tensorrt"]["detail"]
    assert checks["onnxruntime"]["ok"] is True


@pytest.mark.skipif(HAS_TRT, reason="TensorRT is installed here")
def test_doctor_require_trt_fails_with_exit_code_3():
    result = CliRunner().invoke(doctor_command, ["--require", "trt"])
    assert isinstance(result.exception, ToolError)
    assert result.exception.exit_code == 3
    assert "tensorrt is required but missing" in result.exception.one_line()


def test_render_aligns_columns():
    text = render([Check("a", True, "1.0"), Check("longer", False, "absent")])
    assert text.splitlines() == ["a       ok       1.0", "longer  missing  absent"]


def test_collect_reports_real_versions():
    checks = {c.name: c for c in collect()}
    assert checks["onnx"].ok and checks["onnx"].detail[0].isdigit()
    assert checks["polygraphy"].ok
