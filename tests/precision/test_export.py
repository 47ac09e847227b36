"""Exports, each read back the way its consumer reads it, or fed to the tool where it installs."""

from __future__ import annotations

import json
import re
import shlex

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from precision_helpers import build, feeds_for

from trtdiff.commands.plan import plan_group
from trtdiff.errors import UsageError
from trtdiff.precision import (
    PrecisionPlan,
    apply_plan,
    export_all,
    export_plan,
    export_texts,
)
from trtdiff.precision.export import kept_layers, parse_trtexec_layer_precisions

PLAN = PrecisionPlan("fp16", keep_fp32_nodes=("bn", "hsig"), keep_fp32_ops=("Softmax",))


def test_kept_layers_expand_op_types_in_model_order() -> None:
    assert kept_layers(PLAN, build.convnet()) == ["bn", "hsig", "probs"]


def test_trtdiff_plan_round_trips() -> None:
    text = export_texts(PLAN, build.convnet())["trtdiff"]
    assert PrecisionPlan.from_dict(json.loads(text)) == PLAN


def test_modelopt_patterns_match_exactly_the_kept_nodes() -> None:
    model = build.convnet()
    data = json.loads(export_texts(PLAN, model)["modelopt"])
    assert data["tool"] == "modelopt.onnx.autocast" and data["low_precision_type"] == "fp16"
    # AutoCast keeps a node when re.match(pattern, node.name) for a pattern, or its op type is listed
    kept = {n.name for n in model.graph.node
            if any(re.match(p, n.name) for p in data["nodes_to_exclude"]) or n.op_type in data["op_types_to_exclude"]}
    assert kept == {"bn", "hsig", "probs"}
    tricky = PrecisionPlan("fp16", keep_fp32_nodes=("conv1",))  # must not match "conv10" or "conv1.x"
    pattern = json.loads(export_texts(tricky, model)["modelopt"])["nodes_to_exclude"][0]
    assert re.match(pattern, "conv1") and not re.match(pattern, "conv10")
    args = shlex.split(data["command"])
    assert args[args.index("--nodes_to_exclude") + 1: args.index("--op_types_to_exclude")] == data["nodes_to_exclude"]
    int8 = json.loads(export_texts(PrecisionPlan("int8", calibration="entropy"), model)["modelopt"])
    assert int8["tool"] == "modelopt.onnx.quantization" and int8["calibration_method"] == "entropy"


def test_onnxconverter_common_takes_the_block_lists() -> None:
    float16 = pytest.importorskip("onnxconverter_common.float16")
    model = build.convnet()
    data = json.loads(export_texts(PLAN, model)["onnxruntime"])
    settings = {k: data[k] for k in ("keep_io_types", "node_block_list", "op_block_list", "min_positive_val",
                                     "max_finite_val")}
    converted = float16.convert_float_to_float16(model, **settings)
    inferred = onnx.shape_inference.infer_shapes(converted)
    types = {v.name: v.type.tensor_type.elem_type for v in inferred.graph.value_info}
    made_by = {n.name: n.output[0] for n in converted.graph.node}  # it renames blocked outputs
    for kept in ("bn", "hsig"):
        assert types[made_by[kept]] == onnx.TensorProto.FLOAT, kept
    assert types[made_by["conv1"]] == types[made_by["relu"]] == onnx.TensorProto.FLOAT16


def test_onnxruntime_quantize_static_takes_nodes_to_exclude(tmp_path) -> None:
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        quantize_static,
    )

    model = build.convnet()
    plan = PrecisionPlan("int8", keep_fp32_nodes=("conv1",))
    data = json.loads(export_texts(plan, model)["onnxruntime"])
    onnx.save(model, tmp_path / "model.onnx")
    samples = iter([feeds_for(model)])

    class Reader(CalibrationDataReader):
        def get_next(self):  # type: ignore[no-untyped-def]
            return next(samples, None)

    quantize_static(str(tmp_path / "model.onnx"), str(tmp_path / "int8.onnx"), Reader(),
                    quant_format=QuantFormat.QDQ, per_channel=data["per_channel"],
                    nodes_to_exclude=data["nodes_to_exclude"])
    out = onnx.load(str(tmp_path / "int8.onnx"))
    conv1 = next(n for n in out.graph.node if n.name == "conv1")
    assert conv1.input[1] == "conv1.w"  # excluded: its weight is not quantized
    deconv = next(n for n in out.graph.node if n.name == "deconv")
    assert deconv.input[1] != "deconv.w"


def test_trtexec_spec_reads_back_like_trtexec() -> None:
    text = export_texts(PLAN, build.convnet())["trtexec"]
    assert text.startswith("# TensorRT <= 10.x only")
    args = shlex.split(text.splitlines()[1])
    assert args[:3] == ["trtexec", "--onnx=model.onnx", "--fp16"] and "--precisionConstraints=obey" in args
    spec = next(a for a in args if a.startswith("--layerPrecisions=")).split("=", 1)[1]
    assert parse_trtexec_layer_precisions(spec) == {"bn": "fp32", "hsig": "fp32", "probs": "fp32"}


def test_trtexec_names_with_colons_are_quoted_and_commas_refused() -> None:
    model = build.convnet()
    model.graph.node[1].name = "block:bn"
    spec = shlex.split(export_texts(PrecisionPlan("fp16", keep_fp32_nodes=("block:bn",)), model)["trtexec"]
                       .splitlines()[1])[-2].split("=", 1)[1]
    assert parse_trtexec_layer_precisions(spec) == {"block:bn": "fp32"}
    model.graph.node[1].name = "a,b"
    with pytest.raises(UsageError, match="trtexec cannot name layer"):
        export_texts(PrecisionPlan("fp16", keep_fp32_nodes=("a,b",)), model)


def test_polygraphy_layer_precisions_parse_with_polygraphy() -> None:
    from polygraphy.tools.args import util as args_util

    data = json.loads(export_texts(PLAN, build.convnet())["polygraphy"])
    args = shlex.split(data["command"])
    start = args.index("--layer-precisions") + 1
    parsed = args_util.parse_arglist_to_dict(args[start:], allow_empty_key=False)
    assert parsed == data["layer_precisions"] == {"bn": "float32", "hsig": "float32", "probs": "float32"}
    assert "--fp16" in args and args[args.index("--precision-constraints") + 1] == "obey"


def test_export_texts_per_precision() -> None:
    model = build.convnet()
    assert set(export_texts(PrecisionPlan("bf16"), model)) == {"trtdiff", "modelopt", "trtexec", "polygraphy"}
    assert "onnxruntime" in export_texts(PrecisionPlan("int8"), model)
    with pytest.raises(UsageError, match="no onnxruntime export for bf16"):
        export_plan(PrecisionPlan("bf16"), model, "onnxruntime", "/tmp/never-written.json")


def test_export_all_writes_every_format(tmp_path) -> None:
    model = build.convnet()
    written = export_all(PLAN, model, tmp_path / "out")
    assert set(written) == {"onnx", "trtdiff", "modelopt", "onnxruntime", "trtexec", "polygraphy"}
    assert all(path.is_file() for path in written.values())
    exported = onnx.load(str(written["onnx"]))
    onnx.checker.check_model(exported, full_check=True)
    assert exported.SerializeToString() == apply_plan(model, PLAN).model.SerializeToString()


def test_cli_export(tmp_path) -> None:
    model_path = tmp_path / "convnet.onnx"
    onnx.save(build.convnet(), str(model_path))
    plan_path = PLAN.save(tmp_path / "plan.json")
    runner = CliRunner()
    result = runner.invoke(plan_group, ["export", str(plan_path), "--model", str(model_path), "--format",
                                        "trtexec", "-o", str(tmp_path / "t.txt")], catch_exceptions=False)
    assert result.exit_code == 0 and (tmp_path / "t.txt").read_text().count("fp32") == 6
    int8 = PrecisionPlan("int8").save(tmp_path / "int8.json")
    np.savez(tmp_path / "calib.npz", **feeds_for(build.convnet()))
    result = runner.invoke(plan_group, ["export", str(int8), "--model", str(model_path), "-o",
                                        str(tmp_path / "m.onnx"), "--calibration-data", str(tmp_path / "calib.npz")],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    onnx.checker.check_model(onnx.load(str(tmp_path / "m.onnx")), full_check=True)
    result = runner.invoke(plan_group, ["export", str(int8), "--model", str(model_path), "-o", str(tmp_path / "x.onnx")])
    assert isinstance(result.exception, UsageError) and result.exception.exit_code == 2
    result = runner.invoke(plan_group, ["export", str(tmp_path / "plan.json"), "--model", str(model_path),
                                        "--format", "all", "-o", str(tmp_path / "all")], catch_exceptions=False)
    assert result.exit_code == 0 and len(list((tmp_path / "all").iterdir())) == 6


def test_export_all_that_cannot_calibrate_writes_nothing(tmp_path) -> None:
    """An INT8 plan without calibration data is refused before any file of the set is written."""
    int8 = PrecisionPlan("int8")
    with pytest.raises(UsageError, match="calibration"):
        export_all(int8, build.convnet(), tmp_path / "all")
    assert not (tmp_path / "all").exists()


def test_cli_export_calibrates_on_any_data_source_run_takes(tmp_path) -> None:
    """--calibration-data takes a directory of .npz and a loader script, as `run` does; the model
    is the one calibrated on those samples."""
    model = build.convnet()
    model_path = tmp_path / "convnet.onnx"
    onnx.save(model, str(model_path))
    int8 = PrecisionPlan("int8").save(tmp_path / "int8.json")
    (tmp_path / "calib").mkdir()
    samples = [feeds_for(model, seed=seed) for seed in (1, 2)]
    for i, sample in enumerate(samples):
        np.savez(tmp_path / "calib" / f"s{i}.npz", **sample)
    expected = apply_plan(model, PrecisionPlan("int8"), samples).model.SerializeToString()
    program = _program()
    result = CliRunner().invoke(program, ["plan", "export", str(int8), "--model", str(model_path), "-o",
                                          str(tmp_path / "d.onnx"), "--calibration-data", str(tmp_path / "calib")])
    assert result.exit_code == 0, result.output
    assert onnx.load(str(tmp_path / "d.onnx")).SerializeToString() == expected
    np.savez(tmp_path / "all.npz", **{k: np.stack([s[k] for s in samples]) for k in samples[0]})
    (tmp_path / "loader.py").write_text(
        "import numpy as np\n"
        f"def load_data():\n    data = np.load({str(tmp_path / 'all.npz')!r})\n"
        "    return [{k: data[k][i] for k in data.files} for i in range(2)]\n")
    result = CliRunner().invoke(program, ["plan", "export", str(int8), "--model", str(model_path), "-o",
                                          str(tmp_path / "s.onnx"), "--calibration-data", str(tmp_path / "loader.py")])
    assert result.exit_code == 0, result.output
    assert onnx.load(str(tmp_path / "s.onnx")).SerializeToString() == expected


def _program():
    """The real error boundary around `plan` (a refusal is exit 2 with its line, as in the program)."""
    from trtdiff.cli import TrtDiffGroup

    group = TrtDiffGroup("trtdiff")
    group.add_command(plan_group)
    return group


def _resize_then_divide() -> onnx.ModelProto:
    """x -> Relu -> Resize (nearest, scales from an unnamed Constant) -> Div by an unnamed Constant
    5e5 (beyond FP16: trtdiff's rule keeps the Div in FP32) -> Mul by 1000 -> y: the shape of a
    paddle2onnx export (weights as unnamed Constant nodes, an FPN's Resize)."""
    from onnx import TensorProto, helper, numpy_helper

    def constant(name: str, value: np.ndarray) -> onnx.NodeProto:
        return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(value))

    nodes = [helper.make_node("Relu", ["x"], ["r"], name="relu"),
             constant("scales", np.array([1, 1, 2, 2], np.float32)),
             helper.make_node("Resize", ["r", "", "scales"], ["up"], name="resize", mode="nearest"),
             constant("big", np.array(5e5, np.float32)),
             helper.make_node("Div", ["up", "big"], ["d"], name="divide"),
             constant("thousand", np.array(1000, np.float32)),
             helper.make_node("Mul", ["d", "thousand"], ["y"], name="scale")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 4, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 8, 8])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def test_onnxconverter_common_export_of_resize_and_constant_nodes_gives_a_valid_faithful_model(tmp_path) -> None:
    """Applied as exported (its `python`), onnxconverter-common gave an invalid model (Resize with
    float16 scales) and rounded the Constant 5e5 that trtdiff keeps in FP32 to 65504."""
    import subprocess
    import sys

    import onnxruntime as ort

    pytest.importorskip("onnxconverter_common.float16")
    model = _resize_then_divide()
    onnx.save(model, str(tmp_path / "m.onnx"))
    data = json.loads(export_texts(PrecisionPlan("fp16"), model)["onnxruntime"])
    assert "divide" in data["fp32_nodes"] and list(data["scales_kept"]) == ["resize"]
    script = tmp_path / "convert.py"
    script.write_text(f"import onnx\nmodel = onnx.load({str(tmp_path / 'm.onnx')!r})\n" + data["python"]
                      + f"\nonnx.save(model, {str(tmp_path / 'c.onnx')!r})\n")
    subprocess.run([sys.executable, str(script)], check=True, capture_output=True)
    x = np.random.default_rng(0).uniform(1000, 4000, (1, 2, 4, 4)).astype(np.float32)
    converted = ort.InferenceSession(str(tmp_path / "c.onnx")).run(None, {"x": x})[0]
    reference = ort.InferenceSession(str(tmp_path / "m.onnx")).run(None, {"x": x})[0]
    np.testing.assert_allclose(converted, reference, rtol=4e-3)  # fp16 rounding (a 5e5 clamped to 65504: 7.6x)


def test_nodes_the_file_leaves_unnamed_are_named_by_a_step_each_export_carries(tmp_path) -> None:
    """ModelOpt, ONNX Runtime's quantizer, trtexec and Polygraphy find nodes by the names in the
    file; trtdiff names an unnamed node `<op_type>_<position>`. Their exports carry the step that
    writes the model with those names, and their commands read that copy: applied, the kept nodes
    are found (quantize_static leaves the kept Conv unquantized) and nothing else changes."""
    import subprocess
    import sys

    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, quantize_static

    from trtdiff.model import load_model

    original = build.convnet()
    for node in original.graph.node:
        if node.name in ("conv1", "fc"):
            node.name = ""
    path = tmp_path / "m.onnx"
    onnx.save(original, path)
    model = load_model(path)
    conv = model.graph.node[0].name
    assert conv == "Conv_0"
    texts = export_texts(PrecisionPlan("int8", keep_fp32_nodes=(conv, "bn")), model, model_path=str(path))
    texts.update({f"{k}/fp16": v for k, v in export_texts(PrecisionPlan("fp16", keep_fp32_nodes=(conv,)), model,
                                                          model_path=str(path)).items()})
    named = tmp_path / "m.named.onnx"
    ort = json.loads(texts["onnxruntime"])
    subprocess.run([sys.executable, "-c", ort["unnamed_in_file"]["python"]], check=True, cwd=tmp_path)
    names = [n.name for n in onnx.load(named).graph.node]
    assert names == [n.name for n in model.graph.node]  # the file's own names kept, the others trtdiff's
    assert ort["unnamed_in_file"]["nodes"] == [conv] and str(named) in ort["python"]
    for key in ("modelopt", "polygraphy", "modelopt/fp16", "polygraphy/fp16"):
        data = json.loads(texts[key])
        assert data["unnamed_in_file"]["nodes"] == [conv], key
        assert str(named) in data["command"] and conv in json.dumps(data), key
    for key in ("trtexec", "trtexec/fp16"):
        lines = texts[key].splitlines()
        assert lines[1] == "python3 - <<'EOF'" and f"--onnx={named}" in lines[-1], texts[key]
        layers = parse_trtexec_layer_precisions(re.search(r"--layerPrecisions=(\S+)", lines[-1]).group(1))
        assert conv in layers and set(layers) <= set(names)
        named.unlink()  # the naming step, run as the shell runs the file (all but the trtexec line)
        script = "\n".join(lines[:-1]).replace("python3 -", f"{shlex.quote(sys.executable)} -", 1)
        subprocess.run(["bash", "-c", script], check=True, cwd=tmp_path)
        assert [n.name for n in onnx.load(named).graph.node] == names
    assert "unnamed_in_file" not in texts["onnxruntime/fp16"]  # onnxconverter-common's snippet names nodes itself
    samples = iter([{"x": np.random.default_rng(0).uniform(-1, 1, (1, 3, 16, 16)).astype(np.float32)}])

    class Reader(CalibrationDataReader):
        def get_next(self):  # type: ignore[no-untyped-def]
            return next(samples, None)

    quantize_static(str(named), str(tmp_path / "int8.onnx"), Reader(), quant_format=QuantFormat.QDQ,
                    per_channel=ort["per_channel"], op_types_to_quantize=ort["op_types_to_quantize"],
                    nodes_to_exclude=ort["nodes_to_exclude"], extra_options=ort["extra_options"])
    quantized = onnx.load(str(tmp_path / "int8.onnx"))
    producers = {o: n.op_type for n in quantized.graph.node for o in n.output}
    reads_dq = {n.name for n in quantized.graph.node if any(producers.get(i) == "DequantizeLinear" for i in n.input)}
    (gemm,) = [n.name for n in model.graph.node if n.op_type == "Gemm"]  # unnamed in the file too, not kept
    assert conv not in reads_dq and gemm in reads_dq


def test_a_model_with_every_node_named_needs_no_naming_step() -> None:
    texts = export_texts(PrecisionPlan("int8", keep_fp32_nodes=("conv1",)), build.convnet(), model_path="m.onnx")
    for key in ("modelopt", "onnxruntime", "polygraphy"):
        data = json.loads(texts[key])
        assert "unnamed_in_file" not in data and "m.named.onnx" not in json.dumps(data)
    assert "python3" not in texts["trtexec"] and "--onnx=m.onnx" in texts["trtexec"]


def test_the_naming_step_keeps_a_models_external_data_where_it_is(tmp_path) -> None:
    """A model with external data (every model over 2 GB) is named without loading its weights:
    the copy lies beside it and reads the same data file."""
    import subprocess
    import sys

    from trtdiff.precision.export import naming_script

    original = build.convnet()
    for node in original.graph.node:
        node.name = ""
    path = tmp_path / "big.onnx"
    onnx.save(original, path, save_as_external_data=True, all_tensors_to_one_file=True, location="big.data",
              size_threshold=0)
    subprocess.run([sys.executable, "-c", naming_script(str(path))], check=True, cwd=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.data", "big.named.onnx", "big.onnx"]
    bare = onnx.load(str(tmp_path / "big.named.onnx"), load_external_data=False)
    assert all(i.data_location == onnx.TensorProto.EXTERNAL for i in bare.graph.initializer)  # not inlined
    named = onnx.load(str(tmp_path / "big.named.onnx"))  # loads its external data from big.data
    assert [n.name for n in named.graph.node][:2] == ["Conv_0", "BatchNormalization_1"]
    weights = {i.name: onnx.numpy_helper.to_array(i) for i in named.graph.initializer}
    np.testing.assert_array_equal(weights["conv1.w"], onnx.numpy_helper.to_array(
        next(i for i in build.convnet().graph.initializer if i.name == "conv1.w")))
