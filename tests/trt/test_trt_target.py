"""The `--target trt` pieces the `run` command uses: the TargetSpec (precision plan applied as an
ONNX transform, then a TensorRT runner), undoing the pipeline's output marking for TensorRT, and
the one-line failure through the real comparison pipeline on a machine without TensorRT."""

from __future__ import annotations

import sys

import click
import onnx
import pytest
from click.testing import CliRunner

from trtdiff.options.trt import tensorrt_runner_factory, trt_target_from_options
from trtdiff.errors import ToolError
from trtdiff.model import save_model, with_outputs
from trtdiff.runners.trt_runner import TensorRTRunner
from trtdiff.trt.marked import split_marked_outputs
from trtdiff.trt.options import TrtOptions

def test_split_marked_outputs_undoes_with_outputs(model):
    marked = with_outputs(model, ["relu1_out", "swish_out", "probs"])
    own, extra = split_marked_outputs(marked)
    assert [o.name for o in own.graph.output] == ["probs"]
    assert extra == ["relu1_out", "swish_out"]
    assert len(marked.graph.output) == 3  # the given model is not changed
    same, none = split_marked_outputs(model)
    assert same is model and none == []


def test_own_outputs_consumed_inside_stay_when_not_last(model):
    """A model whose own outputs are [relu1_out (also consumed), probs]."""
    two = onnx.ModelProto()
    two.CopyFrom(model)
    two.graph.output.insert(0, onnx.helper.make_tensor_value_info("relu1_out", 1, None))
    own, extra = split_marked_outputs(with_outputs(two, ["conv2_out"]))
    assert [o.name for o in own.graph.output] == ["relu1_out", "probs"] and extra == ["conv2_out"]


def test_factory_gives_the_runner_the_unmarked_model(model):
    runner = tensorrt_runner_factory(TrtOptions())(with_outputs(model, ["relu1_out"]))
    assert isinstance(runner, TensorRTRunner) and runner.name == "target"
    assert [o.name for o in runner.model.graph.output] == ["probs"]
    assert runner.tensors == ["relu1_out"]


def _precision_options(args: list[str]) -> dict:
    """The options dict the precision flags `args` parse into, as a command would receive it."""
    from trtdiff.options.precision import precision_options

    captured: dict = {}

    @click.command()
    @precision_options
    def command(**kwargs):
        captured.update(kwargs)

    CliRunner().invoke(command, args, catch_exceptions=False)
    return captured


def test_target_spec_applies_the_plan_natively(model):
    spec = trt_target_from_options(_precision_options(["--fp16", "--keep-fp32", "softmax"]))
    assert spec.description.endswith("on TensorRT") and "fp16" in spec.description
    assert spec.plan["default"] == "fp16" and spec.plan["mode"] == "native"
    built = spec.build_model(model, {})
    assert built.model is not model
    fp16_inits = [i.name for i in built.model.graph.initializer if i.data_type == onnx.TensorProto.FLOAT16]
    assert fp16_inits  # the converted model carries FP16 weights: TensorRT builds it strongly typed


def test_target_spec_without_plan_runs_the_model_as_given(model):
    spec = trt_target_from_options(_precision_options([]))
    assert spec.plan is None and spec.build_model(model, {}).model is model


def test_pipeline_with_trt_target_fails_with_one_line(model, tmp_path, monkeypatch):
    from trtdiff.pipeline import RunRequest, run_comparison

    for module in ("tensorrt", "tensorrt_rtx"):  # as on a machine with neither installed
        monkeypatch.setitem(sys.modules, module, None)
    path = tmp_path / "tiny.onnx"
    static = onnx.ModelProto()
    static.CopyFrom(model)
    for dim in (static.graph.input[0].type.tensor_type.shape.dim[0],
                static.graph.output[0].type.tensor_type.shape.dim[0]):
        dim.dim_value = 1
    save_model(static, path)
    spec = trt_target_from_options({})
    with pytest.raises(ToolError) as info:
        run_comparison(RunRequest(model_path=str(path), target=spec))
    line = info.value.one_line()
    assert info.value.exit_code == 3 and "\n" not in line
    assert line.startswith("TensorRT is not available") and "pip install tensorrt" in line


def test_target_model_on_tensorrt(model, tmp_path):
    path = tmp_path / "other.onnx"
    save_model(model, path)
    spec = trt_target_from_options({"target_model": str(path)})
    assert spec.own_tensors and spec.description == f"{path} on TensorRT"
    built = spec.build_model(model, {}).model
    assert [n.name for n in built.graph.node] == [n.name for n in model.graph.node]
    from trtdiff.errors import UsageError

    with pytest.raises(UsageError, match="--target-model was given with a precision option"):
        trt_target_from_options({"target_model": str(path), "fp16": True})


def test_run_input_shapes_fix_the_profile_when_none_is_given(model):
    import numpy as np

    spec = trt_target_from_options({})
    spec.build_model(model, {"input": np.zeros((3, 3, 8, 8), np.float32)})
    runner = spec.make_runner(with_outputs(model, ["relu1_out"]))
    assert runner.options.opt_shapes == {"input": (3, 3, 8, 8)}
    assert runner.tensors == ["relu1_out"]
    given = trt_target_from_options({"trt_opt_shapes": ("input:[2,3,8,8]",)})
    given.build_model(model, {"input": np.zeros((3, 3, 8, 8), np.float32)})
    assert given.make_runner(model).options.opt_shapes == {"input": (2, 3, 8, 8)}
