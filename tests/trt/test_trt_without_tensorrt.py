"""What happens on a machine without TensorRT (every machine this project's CI has): one clear
error line naming what to install, exit code 3, and `tensorrt` imported by one module only."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

from trtdiff.errors import ExitCode, ToolError
from trtdiff.runners.trt import TensorRTRunner, tensorrt_available, unsupported_nodes
from trtdiff.trt.options import TrtOptions

HAS_TRT = importlib.util.find_spec("tensorrt") is not None
needs_no_trt = pytest.mark.skipif(HAS_TRT, reason="TensorRT is installed here")
PACKAGE = Path(__file__).resolve().parents[2] / "trtdiff"


@needs_no_trt
def test_tensorrt_available_says_why_and_what_to_install():
    ok, detail = tensorrt_available()
    assert ok is False
    assert "tensorrt" in detail and "pip install tensorrt" in detail


@needs_no_trt
def test_runner_fails_with_one_clear_line(model):
    runner = TensorRTRunner(model, TrtOptions())
    with pytest.raises(ToolError) as info:
        with runner:
            pass
    err = info.value
    assert err.exit_code == ExitCode.TOOL == 3
    line = err.one_line()
    assert "\n" not in line
    assert line.startswith("TensorRT is not available")
    assert "pip install tensorrt" in line


@needs_no_trt
def test_unsupported_nodes_needs_tensorrt(model):
    with pytest.raises(ToolError, match="pip install tensorrt"):
        unsupported_nodes(model)


def test_runner_needs_a_model_or_an_engine():
    with pytest.raises(Exception, match="needs an ONNX model or --load-engine"):
        TensorRTRunner(None, TrtOptions())


def test_runner_satisfies_the_runner_protocol_by_shape():
    from trtdiff.runners.base import Runner

    for name in ("__enter__", "__exit__", "input_specs", "infer", "infer_each", "describe",
                 "engine_layers", "fused_away"):
        assert callable(getattr(TensorRTRunner, name))
    assert isinstance(TensorRTRunner(None, TrtOptions(load_engine=Path("x.engine"))), Runner)


def test_only_runners_trt_imports_tensorrt():
    importers = []
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        if re.search(r"^\s*(import|from) tensorrt\b|import_module\(\"tensorrt\"\)", text, re.M):
            importers.append(path.relative_to(PACKAGE).as_posix())
    assert importers == ["runners/trt.py"]


def test_importing_the_runner_does_not_import_tensorrt():
    code = ("import sys, trtdiff.runners.trt, trtdiff.commands.trt_options, trtdiff.commands.doctor;"
            "print('tensorrt' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
