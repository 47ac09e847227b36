"""Models as they come (issue 13, item 5): -1 dims, old and new opsets, nothing to convert, custom
domains. Each model is built here; each docstring says what it exercises."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from trtdiff.errors import UsageError
from trtdiff.precision import PrecisionPlan, apply_plan


def conv_model(opset: int, dims: list[int | str], ir_version: int = 8) -> onnx.ModelProto:
    """x -> Conv 'conv' (4x3x3x3, pads 1) -> Relu 'relu' -> y, at any opset."""
    weight = np.random.default_rng(0).standard_normal((4, 3, 3, 3)).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["y"], name="relu")]
    graph = helper.make_graph(nodes, "conv", [helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(weight, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = ir_version
    return model


def default_opset(model: onnx.ModelProto) -> int:
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)


def feeds(shape: tuple[int, ...] = (1, 3, 8, 8)) -> dict[str, np.ndarray]:
    return {"x": np.random.default_rng(1).random(shape, dtype=np.float32)}


def runs_on_onnxruntime(model: onnx.ModelProto, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return dict(zip([o.name for o in session.get_outputs()], session.run(None, inputs)))


def test_minus_one_dims_are_dynamic_for_int8_calibration(cli_run, tmp_path) -> None:
    """A PaddlePaddle-style export writes its dynamic dims as -1: the samples of the shape given
    by --input-shapes calibrate INT8 (main refused: "the model takes [-1,3,-1,-1]")."""
    path = tmp_path / "paddle.onnx"
    onnx.save(conv_model(13, [-1, 3, -1, -1]), path)
    result = cli_run("run", path, "--int8", "--input-shapes", "x:[1,3,48,192]")
    assert result.exit_code in (0, 1), result.output
    assert "the model takes" not in result.output
    missing = cli_run("run", path, "--int8")
    assert missing.exit_code == 2 and "dynamic dimensions [?,3,?,?]" in missing.output


@pytest.mark.parametrize(("precision", "mode", "start", "needed"),
                         [("bf16", "emulated", 11, 13), ("bf16", "native", 11, 13), ("fp8", "native", 17, 19),
                          ("fp8", "emulated", 17, 19)])
def test_old_opsets_are_upgraded_with_a_warning(precision: str, mode: str, start: int, needed: int) -> None:
    """--bf16 on opset 11 and --fp8 on opset 17 upgrade the model (main refused both)."""
    applied = apply_plan(conv_model(start, [1, 3, 8, 8], ir_version=6), PrecisionPlan(precision, mode), [feeds()])
    assert default_opset(applied.model) == needed
    assert applied.model.ir_version >= helper.find_min_ir_version_for([helper.make_opsetid("", needed)])
    assert any(f"upgraded to opset {needed}" in w for w in applied.warnings), applied.warnings
    assert "conv" in applied.lowered_nodes or "relu" in applied.lowered_nodes
    onnx.checker.check_model(applied.model, full_check=True)
    if not (precision == "bf16" and mode == "native"):  # the CPU provider has no BF16 Relu
        assert runs_on_onnxruntime(applied.model, feeds())["y"].shape == (1, 4, 8, 8)


def test_bf16_cli_on_opset_11_runs_and_says_it_upgraded(cli_run, tmp_path) -> None:
    path = tmp_path / "op11.onnx"
    onnx.save(conv_model(11, [1, 3, 8, 8], ir_version=6), path)
    result = cli_run("run", path, "--bf16")
    assert result.exit_code in (0, 1), result.output
    assert "upgraded to opset 13" in result.output


def test_a_failed_upgrade_is_one_clear_line(cli_run, tmp_path) -> None:
    """An op the version converter does not know cannot be upgraded: refused, exit 2."""
    graph = helper.make_graph([helper.make_node("Frobnicate", ["x"], ["y"], name="f")], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)])
    with pytest.raises(UsageError, match="cannot convert the model from opset 11 to 13"):
        apply_plan(model, PrecisionPlan("bf16"))
    path = tmp_path / "frob.onnx"
    onnx.save(model, path)
    result = cli_run("plan", "export", _plan(tmp_path, "bf16"), "--model", path, "-o", tmp_path / "m.onnx")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "cannot convert the model from opset 11 to 13" in result.output


@pytest.mark.parametrize("mode", ["native", "emulated"])
def test_qdq_in_an_opset_28_model_take_an_opset_onnxruntime_runs(mode: str) -> None:
    """ONNX Runtime 1.32 has no QuantizeLinear/DequantizeLinear kernel at opset 28: the inserted
    nodes must not take it (main's Q/DQ did, and the target could not run)."""
    model = conv_model(28, [1, 3, 8, 8], ir_version=13)
    applied = apply_plan(model, PrecisionPlan("int8", mode), [feeds()])
    out = runs_on_onnxruntime(applied.model, feeds())["y"]
    reference = runs_on_onnxruntime(model, feeds())["y"]
    assert np.abs(out - reference).max() < 0.1 * np.abs(reference).max()
    assert "QuantizeLinear" in {n.op_type for n in applied.model.graph.node}
    if default_opset(applied.model) < 28:
        assert any("converted down to opset" in w for w in applied.warnings)


def test_int8_cli_on_opset_28(cli_run, tmp_path) -> None:
    path = tmp_path / "op28.onnx"
    onnx.save(conv_model(28, [1, 3, 8, 8], ir_version=13), path)
    result = cli_run("run", path, "--int8")
    assert result.exit_code in (0, 1), result.output


def test_bool_only_model_runs_for_int8_and_says_nothing_changed(cli_run, tmp_path) -> None:
    """Nothing to quantize: the target is the model itself, no calibration runs, and it says so."""
    graph = helper.make_graph([helper.make_node("Not", ["x"], ["y"], name="not")], "bools",
                              [helper.make_tensor_value_info("x", TensorProto.BOOL, [4])],
                              [helper.make_tensor_value_info("y", TensorProto.BOOL, [4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    applied = apply_plan(model, PrecisionPlan("int8"))  # no calibration data needed
    assert applied.model.SerializeToString() == model.SerializeToString()
    assert applied.warnings == ("nothing to convert to int8: the target is the model unchanged; "
                                "no node computes in float32",)
    path = tmp_path / "bool.onnx"
    onnx.save(model, path)
    for flag in ("--int8", "--fp16"):
        result = cli_run("run", path, flag)
        assert result.exit_code == 0, result.output
        assert "nothing to convert" in result.output
    exported = cli_run("plan", "export", _plan(tmp_path, "int8"), "--model", path, "-o", tmp_path / "b.onnx")
    assert exported.exit_code == 0, exported.output


def test_a_model_importing_only_a_custom_domain_gets_a_true_message(cli_run, tmp_path) -> None:
    """Only com.microsoft is imported: main said "imports ai.onnx opset 0 ... needs opset 6"."""
    graph = helper.make_graph([helper.make_node("Gelu", ["x"], ["y"], name="gelu", domain="com.microsoft")], "ms",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8
    for precision in ("fp16", "int8"):
        applied = apply_plan(model, PrecisionPlan(precision), [{"x": np.ones(4, np.float32)}])
        assert applied.model.SerializeToString() == model.SerializeToString()
        (warning,) = applied.warnings
        assert "imports no ai.onnx opset, only com.microsoft" in warning and "opset 0" not in warning
    path = tmp_path / "ms.onnx"
    onnx.save(model, path)
    result = cli_run("run", path, "--fp16")
    assert result.exit_code == 0 and "only com.microsoft" in result.output


def test_a_custom_domain_model_with_lowerable_nodes_gets_an_ai_onnx_opset() -> None:
    """A model (invalid, but seen) that uses a standard op without importing ai.onnx: the Casts
    inserted around it need an ai.onnx import, so one is added."""
    nodes = [helper.make_node("Gelu", ["x"], ["g"], name="gelu", domain="com.microsoft"),
             helper.make_node("Relu", ["g"], ["y"], name="relu")]
    graph = helper.make_graph(nodes, "mixed", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])],
                              value_info=[helper.make_tensor_value_info("g", TensorProto.FLOAT, [4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8
    applied = apply_plan(model, PrecisionPlan("fp16", "emulated"))
    assert applied.lowered_nodes == ("relu",) and default_opset(applied.model) >= 6


def _plan(tmp_path, precision: str) -> str:
    return str(PrecisionPlan(precision).save(tmp_path / f"{precision}.json"))


def test_a_kernel_error_on_an_inserted_node_names_the_node_to_keep() -> None:
    """ONNX Runtime names the inserted Q/DQ node it has no kernel for (`x__quantized`), which
    --keep-fp32 refuses: the error names the original node that reads it instead."""
    from trtdiff.errors import ToolError
    from trtdiff.precision.opsets import onnxruntime_runs
    from trtdiff.runners.onnxrt import OnnxRuntimeRunner

    if onnxruntime_runs(28, TensorProto.INT8, qdq=True):
        pytest.skip("this ONNX Runtime runs QuantizeLinear at opset 28: no kernel error to provoke")
    applied = apply_plan(conv_model(21, [1, 3, 8, 8]), PrecisionPlan("int8"), [feeds()]).model
    for opset in applied.opset_import:
        opset.version = 28  # where ONNX Runtime 1.32 has no QuantizeLinear kernel
    applied.ir_version = 13
    with pytest.raises(ToolError) as raised:
        with OnnxRuntimeRunner(applied, ("CPUExecutionProvider",)):
            pass
    message = raised.value.one_line()
    assert "__quantized" in message and "--keep-fp32 conv" in message
