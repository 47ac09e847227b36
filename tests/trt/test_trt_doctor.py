"""`trtdiff doctor`: reports TensorRT (or why it is missing), CUDA, GPU and ONNX Runtime with its
providers; exits 0 unless asked to require something that is missing."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from trtdiff.commands.doctor import Check, check_execution, collect, doctor_command, render
from trtdiff.errors import ToolError
from trtdiff.trt.gpu import DriverStatus, driver_status



def test_doctor_lists_every_component():
    result = CliRunner().invoke(doctor_command, [], catch_exceptions=False)
    assert result.exit_code == 0
    names = [line.split()[0] for line in result.output.splitlines()]
    for expected in ("trtdiff", "python", "tensorrt", "cuda", "gpu", "onnxruntime", "onnx",
                     "polygraphy", "numpy"):
        assert expected in names
    assert "CPUExecutionProvider" in result.output


def test_doctor_says_why_tensorrt_is_missing_and_what_to_install(no_tensorrt):
    result = CliRunner().invoke(doctor_command, ["--json"], catch_exceptions=False)
    checks = {c["name"]: c for c in json.loads(result.output)}
    for name in ("tensorrt", "tensorrt-rtx", "trt-target", "trt-execution"):
        assert checks[name]["ok"] is False, name
    assert "cannot be imported" in checks["tensorrt"]["detail"]
    assert "pip install tensorrt-rtx" in checks["tensorrt-rtx"]["detail"]
    assert checks["onnxruntime"]["ok"] is True


def test_doctor_require_trt_fails_with_exit_code_3(no_tensorrt):
    result = CliRunner().invoke(doctor_command, ["--require", "trt"])
    assert isinstance(result.exception, ToolError)
    assert result.exception.exit_code == 3
    assert "trt-target is required but missing" in result.exception.one_line()


@pytest.mark.trt_builder
def test_doctor_shows_the_flavor_its_version_and_what_it_builds_for(trt_builder):
    """With the real module: which flavour `--target trt` uses, its version, and for RTX the
    compute capabilities it builds for and whether this machine can run its engines."""
    checks = {c.name: c for c in collect()}
    assert checks["trt-target"].ok and checks["trt-target"].detail.startswith(trt_builder.label)
    if trt_builder.flavor == "rtx":
        rtx = checks["tensorrt-rtx"]
        assert rtx.ok and rtx.detail.startswith(trt_builder.version)
        assert "builds for compute capabilities" in rtx.detail and "8.6" in rtx.detail
    execution = checks["trt-execution"]
    expected = check_execution(trt_builder, driver_status())
    assert execution == expected
    if not driver_status().ok:  # CI: the builder works, engines cannot run
        assert not execution.ok and "no NVIDIA driver" in execution.detail
        result = CliRunner().invoke(doctor_command, ["--require", "trt"])
        assert result.exit_code == 0
        result = CliRunner().invoke(doctor_command, ["--require", "trt-run"])
        assert result.exception.exit_code == 3 and "no NVIDIA driver" in result.exception.one_line()


@pytest.mark.trt_builder
def test_a_gpu_the_flavor_does_not_run_is_named(trt_builder):
    """The decision on a GPU, from the real module's features and a driver report written here
    (no such GPU is reachable): compute capability 9.0 is not one TensorRT-RTX runs."""
    if trt_builder.flavor != "rtx":
        pytest.skip("only TensorRT-RTX restricts compute capabilities")
    h100 = DriverStatus("13.0", ("9.0",), None)
    check = check_execution(trt_builder, h100)
    assert not check.ok and "compute capability 9.0" in check.detail
    assert check_execution(trt_builder, DriverStatus("13.0", ("8.9",), None)).ok
    assert check_execution(trt_builder, DriverStatus("13.0", ("13.0",), None)).ok  # newer than 12.x


def test_render_aligns_columns():
    text = render([Check("a", True, "1.0"), Check("longer", False, "absent")])
    assert text.splitlines() == ["a       ok       1.0", "longer  missing  absent"]


def test_collect_reports_real_versions():
    checks = {c.name: c for c in collect()}
    assert checks["onnx"].ok and checks["onnx"].detail[0].isdigit()
    assert checks["polygraphy"].ok
