"""Advice that is safe to apply (issue 13, items 1, 2 and 6): bisect's FP32 set is the whole set,
every export carries it and, applied by the tool it is for, gives what bisect verified; the model
`-o` writes is the native one; the command bisect ends with applies its plan. Each test applies
what trtdiff says (onnxconverter-common, ONNX Runtime's quantize_static, the suggested command)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

ATOL = RTOL = 1e-3


def divide_model() -> onnx.ModelProto:
    """Culprit for the search: `square` (m * m with m = 1000 x overflows FP16). `divide` divides
    by 5e5, a constant beyond FP16's range, so trtdiff's own rule keeps it in FP32: the plan passes
    only with both, and an export naming `square` alone gives a failing model."""
    nodes = [helper.make_node("Mul", ["x", "k"], ["m"], name="scale"),
             helper.make_node("Mul", ["m", "m"], ["sq"], name="square"),
             helper.make_node("Div", ["sq", "d"], ["y"], name="divide")]
    graph = helper.make_graph(nodes, "divide", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64])],
                              [numpy_helper.from_array(np.array(1000, np.float32), "k"),
                               numpy_helper.from_array(np.array(5e5, np.float32), "d")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def quantized_model() -> onnx.ModelProto:
    """Three MatMuls for INT8. Culprit: `proj`, whose input `f` has channel 3 scaled by 1000 (an
    outlier channel: the per-tensor scale zeroes the other channels; `proj`'s weights for that
    channel are 1e-3, so its output is of ordinary size). `mid` and `head` quantize well; an Add
    sits between them (trtdiff's INT8 quantizes only Conv/Gemm/MatMul inputs)."""
    rng = np.random.default_rng(5)
    gains = np.ones(8, np.float32)
    gains[3] = 1000.0
    w1 = rng.normal(0, 0.5, (8, 16))
    w1[3] = 1e-3
    nodes = [helper.make_node("Mul", ["x", "gains"], ["f"], name="features"),
             helper.make_node("MatMul", ["f", "w1"], ["p"], name="proj"),
             helper.make_node("Add", ["p", "b"], ["pb"], name="bias"),
             helper.make_node("MatMul", ["pb", "w2"], ["q"], name="mid"),
             helper.make_node("Relu", ["q"], ["r"], name="act"),
             helper.make_node("MatMul", ["r", "w3"], ["y"], name="head")]
    inits = {"gains": gains, "w1": w1, "b": rng.normal(0, 0.1, (16,)),
             "w2": rng.normal(0, 0.3, (16, 16)), "w3": rng.normal(0, 0.3, (16, 4))}
    graph = helper.make_graph(nodes, "quantized", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [32, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [32, 4])],
                              [numpy_helper.from_array(np.asarray(v, np.float32), k) for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def feeds_for(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    shape = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    return {"x": np.random.default_rng(1).random(shape, dtype=np.float32)}


def run_ort(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, feeds)[0]


def within(reference: np.ndarray, got: np.ndarray) -> bool:
    return bool(np.all(np.isfinite(got)) and np.allclose(got, reference, atol=ATOL, rtol=RTOL))


@pytest.fixture(scope="module")
def divide_bisect(tmp_path_factory):
    """`trtdiff bisect divide.onnx --fp16 -o out --json` (the CPU provider: evaluated emulated)."""
    from click.testing import CliRunner

    from trtdiff.cli import cli

    folder = tmp_path_factory.mktemp("divide")
    onnx.save(divide_model(), folder / "divide.onnx")
    np.savez(folder / "inputs.npz", **feeds_for(divide_model()))
    args = ["bisect", str(folder / "divide.onnx"), "--fp16", "--load-inputs", str(folder / "inputs.npz"),
            "-o", str(folder / "out"), "--json", str(folder / "bisect.json"), "--report", str(folder / "r.html"),
            "--no-progress"]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return folder, json.loads((folder / "bisect.json").read_text()), result.output


def test_the_fp32_set_is_the_whole_set_with_sources(divide_bisect) -> None:
    folder, data, output = divide_bisect
    sources = {n["node"]: n["source"] for n in data["fp32_nodes"]}
    assert sources == {"square": "search", "divide": "out-of-range constant"}
    reason = next(n["reason"] for n in data["fp32_nodes"] if n["node"] == "divide")
    assert "500000" in reason and "65504" in reason
    assert "out-of-range constant" in output and "divide" in output
    assert set(data["plan"]["keep_fp32_nodes"]) == {"square", "divide"}
    html = (folder / "r.html").read_text()
    assert "out-of-range constant" in html and "<td>search</td>" in html


def test_every_export_carries_the_whole_set(divide_bisect) -> None:
    folder, data, _ = divide_bisect
    out = folder / "out"
    modelopt = json.loads((out / "modelopt.json").read_text())
    assert {n for n in ("square", "divide") if any(re.match(p, n) for p in modelopt["nodes_to_exclude"])} == \
        {"square", "divide"}
    assert set(json.loads((out / "onnxruntime.json").read_text())["node_block_list"]) == {"square", "divide"}
    assert set(json.loads((out / "polygraphy.json").read_text())["layer_precisions"]) == {"square", "divide"}
    assert "divide:fp32" in (out / "trtexec.txt").read_text() and "square:fp32" in (out / "trtexec.txt").read_text()
    plan = json.loads((out / "plan.json").read_text())
    assert set(plan["keep_fp32_nodes"]) == {"square", "divide"}
    assert set(data["exports"]) == {"trtdiff", "modelopt", "onnxruntime", "trtexec", "polygraphy"}


def _float_outputs_by_node(model: onnx.ModelProto) -> dict[str, int]:
    """Element type each original node's outputs end up in, read from the converted model."""
    inferred = onnx.shape_inference.infer_shapes(model)
    types = {v.name: v.type.tensor_type.elem_type for v in
             list(inferred.graph.value_info) + list(inferred.graph.output) + list(inferred.graph.input)}
    return {n.name: types.get(n.output[0], 0) for n in inferred.graph.node}


def test_onnxconverter_common_applies_the_export_to_exactly_that_set(divide_bisect) -> None:
    float16 = pytest.importorskip("onnxconverter_common.float16")
    folder, data, _ = divide_bisect
    settings = json.loads((folder / "out" / "onnxruntime.json").read_text())
    kwargs = {k: settings[k] for k in ("keep_io_types", "node_block_list", "op_block_list", "min_positive_val",
                                       "max_finite_val")}
    converted = float16.convert_float_to_float16(divide_model(), **kwargs)
    by_node = _float_outputs_by_node(converted)
    fp32 = {n for n in ("scale", "square", "divide") if by_node[n] == TensorProto.FLOAT}
    assert fp32 == {n["node"] for n in data["fp32_nodes"]}
    assert by_node["scale"] == TensorProto.FLOAT16
    feeds = feeds_for(divide_model())
    reference = run_ort(divide_model(), feeds)
    assert within(reference, run_ort(converted, feeds))
    assert within(reference, ReferenceEvaluator(converted).run(None, feeds)[0])  # FP16 arithmetic, numpy's


def test_the_written_model_is_native_and_reproduces_what_bisect_verified(divide_bisect) -> None:
    folder, data, output = divide_bisect
    path = Path(data["files"]["model"])
    assert path.name == "model.fp16.onnx" and not list((folder / "out").glob("*emulated*"))
    native = onnx.load(str(path))
    by_node = _float_outputs_by_node(native)
    assert by_node["scale"] == TensorProto.FLOAT16
    assert by_node["square"] == by_node["divide"] == TensorProto.FLOAT
    casts = [n for n in native.graph.node if n.op_type == "Cast"]
    producers = {o: n for n in native.graph.node for o in n.output}
    assert casts and not any(c.input[0] in producers and producers[c.input[0]].op_type == "Cast" for c in casts)
    assert data["evaluated"]["mode"] == "emulated" and data["plan"]["mode"] == "native"
    plan = json.loads((folder / "out" / "plan.json").read_text())
    assert plan["mode"] == "native" and plan["evaluated"]["mode"] == "emulated"
    feeds = feeds_for(divide_model())
    reference = run_ort(divide_model(), feeds)
    assert within(reference, run_ort(native, feeds))  # the CPU provider upcasts FP16 nodes
    assert within(reference, ReferenceEvaluator(native).run(None, feeds)[0])  # real FP16 arithmetic


def test_the_emulated_model_only_on_request(tmp_path, cli_run) -> None:
    onnx.save(divide_model(), tmp_path / "divide.onnx")
    result = cli_run("bisect", tmp_path / "divide.onnx", "--fp16", "-o", tmp_path / "out", "--emulated-model",
                     "--no-progress")
    assert result.exit_code == 0, result.output
    emulated = onnx.load(str(tmp_path / "out" / "model.fp16.emulated.onnx"))
    assert TensorProto.FLOAT16 not in {i.data_type for i in emulated.graph.initializer}
    assert (tmp_path / "out" / "model.fp16.onnx").is_file()


def test_plan_export_onnx_of_an_emulated_plan_writes_the_native_model(tmp_path, cli_run) -> None:
    from trtdiff.precision import PrecisionPlan

    onnx.save(divide_model(), tmp_path / "divide.onnx")
    plan = PrecisionPlan("fp16", "emulated", keep_fp32_nodes=("square",)).save(tmp_path / "plan.json")
    result = cli_run("plan", "export", plan, "--model", tmp_path / "divide.onnx", "-o", tmp_path / "m.onnx")
    assert result.exit_code == 0, result.output
    assert _float_outputs_by_node(onnx.load(str(tmp_path / "m.onnx")))["scale"] == TensorProto.FLOAT16
    result = cli_run("plan", "export", plan, "--model", tmp_path / "divide.onnx", "-o", tmp_path / "e.onnx",
                     "--emulated")
    assert result.exit_code == 0, result.output
    assert _float_outputs_by_node(onnx.load(str(tmp_path / "e.onnx")))["scale"] == TensorProto.FLOAT


def test_the_command_bisect_ends_with_applies_its_plan(divide_bisect, cli_run) -> None:
    folder, data, output = divide_bisect
    (step,) = data["next_steps"]
    assert f"Next: {step['command']}" in output
    assert step["command"] in (folder / "r.html").read_text().replace("&#39;", "'")
    words = shlex.split(step["command"])
    assert words[:3] == ["trtdiff", "run", str(folder / "divide.onnx")] and "--precision-plan" in words
    result = cli_run(*words[1:], "--json", folder / "applied.json")
    assert result.exit_code == 0, result.output
    applied = json.loads((folder / "applied.json").read_text())
    assert applied["passed"] is True
    assert set(applied["settings"]["precision_plan"]["keep_fp32_nodes"]) == {"square", "divide"}


def test_quantize_static_leaves_exactly_that_set_unquantized(tmp_path, cli_run) -> None:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, quantize_static

    model = quantized_model()
    onnx.save(model, tmp_path / "q.onnx")
    np.savez(tmp_path / "inputs.npz", **feeds_for(model))
    result = cli_run("bisect", tmp_path / "q.onnx", "--int8", "--keep-fp32", "head", "--load-inputs",
                     tmp_path / "inputs.npz", "--atol", "0.05", "--rtol", "0.05", "-o", tmp_path / "out", "--json",
                     tmp_path / "b.json", "--no-progress")
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "b.json").read_text())
    fp32 = {n["node"]: n["source"] for n in data["fp32_nodes"]}
    assert fp32 == {"proj": "search", "head": "plan"}
    settings = json.loads((tmp_path / "out" / "onnxruntime.json").read_text())
    samples = iter([feeds_for(model)])

    class Reader(CalibrationDataReader):
        def get_next(self):  # type: ignore[no-untyped-def]
            return next(samples, None)

    quantize_static(str(tmp_path / "q.onnx"), str(tmp_path / "int8.onnx"), Reader(), quant_format=QuantFormat.QDQ,
                    per_channel=settings["per_channel"], op_types_to_quantize=settings["op_types_to_quantize"],
                    nodes_to_exclude=settings["nodes_to_exclude"], extra_options=settings["extra_options"])
    quantized = onnx.load(str(tmp_path / "int8.onnx"))
    producers = {o: n.op_type for n in quantized.graph.node for o in n.output}
    reads_dq = {n.name for n in quantized.graph.node if n.name in {"proj", "bias", "mid", "act", "head", "features"}
                and any(producers.get(i) == "DequantizeLinear" for i in n.input)}
    assert {"proj", "mid", "head"} - reads_dq == set(fp32)  # exactly the set stays unquantized
    assert reads_dq == {"mid"}  # and nothing trtdiff did not quantize gets quantized
    reference = run_ort(model, feeds_for(model))
    got = run_ort(quantized, feeds_for(model))
    assert np.allclose(got, reference, atol=0.05, rtol=0.05)
