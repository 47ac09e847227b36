"""What happens on a machine without TensorRT: one clear error line naming what to install, exit
code 3, and TensorRT imported by one module only. The `no_tensorrt` fixture makes both module
imports fail (conftest.py), as on a machine where neither `tensorrt` nor `tensorrt_rtx` is
installed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from trtdiff.errors import ExitCode, ToolError
from trtdiff.runners.trt import tensorrt_available, unsupported_nodes
from trtdiff.runners.trt_runner import TensorRTRunner
from trtdiff.trt.options import TrtOptions

PACKAGE = Path(__file__).resolve().parents[2] / "trtdiff"


def test_tensorrt_available_says_why_and_what_to_install(no_tensorrt):
    ok, detail = tensorrt_available()
    assert ok is False
    assert "the tensorrt Python package cannot be imported" in detail
    assert "the tensorrt_rtx Python package cannot be imported" in detail
    assert "pip install tensorrt" in detail and "pip install tensorrt-rtx" in detail


def test_a_named_flavor_that_is_missing_is_said(no_tensorrt):
    ok, detail = tensorrt_available("rtx")
    assert ok is False and "tensorrt_rtx" in detail and "the tensorrt Python" not in detail


def test_runner_fails_with_one_clear_line(no_tensorrt, model):
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


def test_unsupported_nodes_needs_tensorrt(no_tensorrt, model):
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
    """Import statements are checked by tests/test_architecture.py; this catches the dynamic
    import (importlib) too: only runners/trt.py hands TensorRT's module names to import_module."""
    importers = []
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        if re.search(r"^\s*(import|from) tensorrt(_rtx)?\b|import_module\([^)]*(tensorrt|MODULES)", text, re.M):
            importers.append(path.relative_to(PACKAGE).as_posix())
    assert importers == ["runners/trt.py"]


def test_importing_the_runner_does_not_import_tensorrt():
    code = ("import sys, trtdiff.runners.trt, trtdiff.runners.trt_runner, trtdiff.options.trt,"
            " trtdiff.commands.doctor, trtdiff.commands.build;"
            "print('tensorrt' in sys.modules or 'tensorrt_rtx' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_core_install_does_not_depend_on_tensorrt():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    project = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())["project"]
    assert not [d for d in project["dependencies"] if "tensorrt" in d.lower()]
    extras = project["optional-dependencies"]
    assert extras["trt"] == ["tensorrt>=10.0"] and extras["rtx"][0].startswith("tensorrt-rtx")
