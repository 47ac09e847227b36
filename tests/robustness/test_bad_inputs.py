"""The bad-input corpus: every kind of bad model file, input file, option value, plan, state file,
result JSON and output path a user might hit, each through the real CLI. Each must end with exit
2 (usage) or 3 (model/tool), exactly one error line (what: why. fix), no traceback, and the folder
it ran in exactly as it was (no file left, none changed).

Cases run in-process (the real command group and its error boundary); test_entry_point.py runs a
few through the installed `trtdiff` to show the real entry point behaves the same.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from corpus import (
    Case, DEMO, build_workspace, case, check_one_error_line, compressed_npz_declaring, copy_workspace, add_files,
    cyclic_model,
    device_copy, edited_json, invoke, json_text, npz_file, onnx_file, polygraphy_array, snapshot, truncated,
)
from model_builders import conv_relu_model, make_model

RUN = "run m.onnx --fp16"
X = np.ones((1, 3, 8, 8), np.float32)


def _unknown_op_model() -> onnx.ModelProto:
    model = make_model([helper.make_node("FancyOp", ["x"], ["y"], name="fancy", domain="com.example")],
                       [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])],
                       [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])])
    model.opset_import.append(helper.make_opsetid("com.example", 1))
    return model


def _dangling_model() -> onnx.ModelProto:
    return make_model([helper.make_node("Relu", ["nobody"], ["y"], name="relu")],
                      [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])])


def _future_opset_model() -> onnx.ModelProto:
    return make_model([helper.make_node("Relu", ["x"], ["y"], name="relu")],
                      [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])], opset=99)


def _external_data_model(path) -> None:
    model = conv_relu_model()
    onnx.save(model, path, save_as_external_data=True, location="weights.bin", size_threshold=0)
    (path.parent / "weights.bin").unlink()


def _sequence_pb(path) -> None:
    path.write_bytes(onnx.numpy_helper.from_list([X], name="x").SerializeToString())


def _state(**fields) -> str:
    from trtdiff.bisect.state import STATE_VERSION

    data = {"version": STATE_VERSION, "model_hash": "0" * 16, "settings_hash": "", "evaluations": []}
    data.update(fields)
    return json_text(data)


def _plan(**fields) -> str:
    return json_text({"format": "trtdiff-precision-plan", "version": 1, "default": "fp16", **fields})


def _set(*path_and_value):
    """An edit of a JSON object: set data[k1][k2]... = value."""
    *keys, value = path_and_value

    def edit(data: dict) -> None:
        for key in keys[:-1]:
            data = data[key]
        data[keys[-1]] = value

    return edit


MODEL_FILES = [
    case("model-missing", "run nothing.onnx --fp16", 2, "nothing.onnx"),
    case("model-is-a-folder", "run folder --fp16", 2, "folder", files={"folder/x": "x"}),
    case("model-empty", "run empty.onnx --fp16", 3, "empty.onnx", files={"empty.onnx": b""}),
    case("model-text", "run text.onnx --fp16", 3, "text.onnx", files={"text.onnx": "hello, not a model\n"}),
    case("model-truncated", "run half.onnx --fp16", 3, "half.onnx", files={"half.onnx": truncated("m.onnx")}),
    case("model-random-bytes", "run noise.onnx --fp16", 3, files={"noise.onnx": bytes(range(256)) * 7}),
    case("model-is-json", "run result.json --fp16", 3, "result.json"),
    case("model-is-npz", "run inputs.npz --fp16", 3, "inputs.npz"),
    case("model-cycle", "run cyc.onnx --fp16", 3, "cycle", "'relu' -> 'neg' -> 'add'",
         files={"cyc.onnx": onnx_file(cyclic_model())}),
    case("model-dangling-input", "run dangling.onnx --fp16", 3, "nobody", files={"dangling.onnx": onnx_file(_dangling_model())}),
    case("model-unknown-op", "run custom.onnx --fp16", 3, "FancyOp", files={"custom.onnx": onnx_file(_unknown_op_model())}),
    case("model-future-opset", "run future.onnx --fp16", 3, "future.onnx", files={"future.onnx": onnx_file(_future_opset_model())}),
    case("model-external-data-missing", "run ext.onnx --fp16", 3, "weights.bin", files={"ext.onnx": _external_data_model}),
    case("target-model-missing", "run m.onnx --target-model other.onnx", 2, "other.onnx"),
    case("target-model-corrupt", "run m.onnx --target-model half.onnx", 3, "half.onnx",
         files={"half.onnx": truncated("m.onnx")}),
    case("model-dynamic-without-shapes", "run dyn.onnx --fp16", 2, "dynamic", "--input-shapes"),
]

INPUT_FILES = [
    case("inputs-missing", f"{RUN} --load-inputs nope.npz", 2, "nope.npz"),
    case("inputs-unknown-suffix", f"{RUN} --load-inputs x.txt", 2, "x.txt", files={"x.txt": "1 2 3"}),
    case("inputs-corrupt-npz", f"{RUN} --load-inputs bad.npz", 2, "bad.npz", files={"bad.npz": b"PK\x03\x04 broken"}),
    case("inputs-unknown-name", f"{RUN} --load-inputs in.npz", 2, "'images'", files={"in.npz": npz_file(images=X)}),
    case("inputs-wrong-dtype", f"{RUN} --load-inputs in.npz", 2, "float64", files={"in.npz": npz_file(x=X.astype(np.float64))}),
    case("inputs-wrong-shape", f"{RUN} --load-inputs in.npz", 2, "[1, 3, 9, 9]",
         files={"in.npz": npz_file(x=np.ones((1, 3, 9, 9), np.float32))}),
    case("inputs-wrong-rank", f"{RUN} --load-inputs in.npz", 2, "rank", files={"in.npz": npz_file(x=np.ones((3, 8, 8), np.float32))}),
    case("inputs-empty-npz", f"{RUN} --load-inputs in.npz", 2, files={"in.npz": npz_file()}),
    case("inputs-compressed-npz-of-terabytes", "run dyn.onnx --fp16 --load-inputs in.npz", 2, "would take", "TiB",
         "compressed", files={"in.npz": compressed_npz_declaring("x", (100000, 3, 1024, 1024))}),
    case("inputs-folder-with-a-compressed-npz-of-terabytes", "run dyn.onnx --fp16 --load-inputs data", 2,
         "would take", "TiB", files={"data/s0.npz": compressed_npz_declaring("x", (100000, 3, 1024, 1024))}),
    case("calibration-compressed-npz-of-terabytes", "run m.onnx --int8 --calibration-data cal.npz", 2,
         "would take", "cal.npz", files={"cal.npz": compressed_npz_declaring("x", (100000, 3, 1024, 1024))}),
    case("inputs-pickled-npz", f"{RUN} --load-inputs in.npz", 2, "in.npz",
         files={"in.npz": npz_file(x=np.array([{"a": 1}], dtype=object))}),
    case("inputs-corrupt-npy", f"{RUN} --load-inputs x.npy", 2, "x.npy", files={"x.npy": b"\x93NUMPY garbage"}),
    case("inputs-polygraphy-array-not-base64", f"{RUN} --load-inputs p.json", 2, "p.json",
         files={"p.json": json_text([{"x": {"array": 5}}])}),
    case("inputs-polygraphy-bad-base64", f"{RUN} --load-inputs p.json", 2, "p.json",
         files={"p.json": json_text([{"x": {"array": "!!!not base64"}}])}),
    case("inputs-polygraphy-not-a-list", f"{RUN} --load-inputs p.json", 2, "p.json", files={"p.json": "42"}),
    case("inputs-polygraphy-outputs-file", f"{RUN} --load-inputs p.json", 2, "RunResults",
         files={"p.json": json_text({"lst": [], "polygraphy_class": "RunResults"})}),
    case("inputs-polygraphy-wrong-shape", f"{RUN} --load-inputs p.json", 2, "'x'",
         files={"p.json": json_text([{"x": polygraphy_array(np.ones((2, 2), np.float32))}])}),
    case("inputs-json-syntax", f"{RUN} --load-inputs p.json", 2, "p.json", files={"p.json": "[{"}),
    case("inputs-empty-folder", f"{RUN} --load-inputs empty", 2, "empty", files={"empty/.keep": ""}),
    case("inputs-sequence-proto", f"{RUN} --load-inputs seq", 2, "SequenceProto", files={"seq/input_0.pb": _sequence_pb}),
    case("inputs-garbage-pb", f"{RUN} --load-inputs pb", 2, "input_0.pb", files={"pb/input_0.pb": b"\xff\xfe\xfd garbage"}),
    case("load-outputs-missing", f"{RUN} --load-outputs gold.npz", 2, "gold.npz"),
    case("load-outputs-corrupt", f"{RUN} --load-outputs gold.npz", 2, "gold.npz", files={"gold.npz": b"not a zip"}),
    case("calibration-data-missing", "run m.onnx --int8 --calibration-data calib", 2, "calib"),
    case("loader-script-missing", f"{RUN} --data-loader-script load.py", 2, "load.py"),
    case("loader-script-raises", f"{RUN} --data-loader-script load.py", 2, "load.py",
         files={"load.py": "def load_data():\n    raise RuntimeError('no data here')\n"}),
    case("seed-with-loaded-inputs", f"{RUN} --load-inputs inputs.npz --seed 3", 2, "--seed", "--load-inputs"),
    case("val-range-with-loaded-inputs", f"{RUN} --load-inputs inputs.npz --val-range [0,2]", 2, "--val-range"),
    case("batched-npz-without-inputs", f"{RUN} --batched-npz", 2, "--batched-npz"),
]

OPTION_VALUES = [
    case("seed-negative", f"{RUN} --seed -1", 2, "--seed", "-1"),
    case("seed-too-large", f"{RUN} --seed {2**40}", 2, "--seed"),
    case("seed-not-a-number", f"{RUN} --seed abc", 2, "--seed"),
    case("shapes-on-static-model", "run demo.onnx --fp16 --input-shapes images:2x3x64x64", 2, "[1,3,32,32]", "fixed"),
    case("shapes-unknown-input", f"{RUN} --input-shapes images:1x3x8x8", 2, "'images'"),
    case("shapes-wrong-rank", "run dyn.onnx --fp16 --input-shapes x:1x3", 2, "rank"),
    case("shapes-fixed-dim-changed", "run dyn.onnx --fp16 --input-shapes x:1x4x8x8", 2, "fixed at 3"),
    case("shapes-too-large-for-memory", "run dyn.onnx --fp16 --input-shapes x:100000x3x1024x1024", 2, "would take", "TiB"),
    case("static-shape-too-large-for-memory", "run huge.onnx --fp16", 2, "would take", "x[100000,3,1024,1024]",
         files={"huge.onnx": onnx_file(make_model([helper.make_node("Relu", ["x"], ["y"], name="relu")],
                                                  [helper.make_tensor_value_info("x", TensorProto.FLOAT, [100000, 3, 1024, 1024])],
                                                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, [100000, 3, 1024, 1024])]))}),
    case("shapes-absurd", "run dyn.onnx --fp16 --input-shapes x:1x3x99999999999999999999x8", 2, "would take"),
    case("shapes-garbage", f"{RUN} --input-shapes x", 2, "--input-shapes"),
    case("shapes-negative", "run dyn.onnx --fp16 --input-shapes x:1x3x-1x8", 2, "--input-shapes"),
    case("val-range-empty", f"{RUN} --val-range [1,0]", 2, "empty"),
    case("val-range-infinite", f"{RUN} --val-range [0,inf]", 2, "finite"),
    case("val-range-garbage", f"{RUN} --val-range lots", 2, "value range"),
    case("atol-nan", f"{RUN} --atol nan", 2, "--atol"),
    case("atol-negative", f"{RUN} --atol -1", 2, "--atol"),
    case("atol-unknown-tensor", f"{RUN} --atol nosuch:1e-3", 2, "nosuch"),
    case("rtol-not-a-number", f"{RUN} --rtol abc", 2, "--rtol"),
    case("check-unknown", f"{RUN} --check bogus", 2, "bogus"),
    case("rel-floor-zero", f"{RUN} --rel-floor 0", 2, "--rel-floor"),
    case("two-precisions", "run m.onnx --fp16 --bf16", 2, "--fp16", "--bf16"),
    case("precision-disagrees-with-emulate", "run m.onnx --fp16 --emulate int8", 2, "disagree"),
    case("no-target", "run m.onnx", 2, "no target"),
    case("keep-fp32-unknown-node", f"{RUN} --keep-fp32 conv1", 2, "'conv1'", "conv"),
    case("keep-fp32-op-typo", f"{RUN} --keep-fp32-op LayerNorm", 2, "LayerNorm"),
    case("keep-fp32-without-precision", "run m.onnx --keep-fp32 conv", 2, "--keep-fp32"),
    case("target-model-with-precision", "run m.onnx --fp16 --target-model m.onnx", 2, "--target-model"),
    case("providers-unknown", f"{RUN} --providers nosuch", 2, "nosuch"),
    case("target-providers-unavailable", f"{RUN} --target-providers cuda", 2, "cuda"),
    case("load-engine-on-onnxruntime", f"{RUN} --load-engine missing.engine", 2, "--load-engine", "--target trt"),
    case("trt-pool-limit-on-onnxruntime", f"{RUN} --trt-pool-limit workspace:lots", 2, "--trt-pool-limit"),
    case("trt-opt-shapes-on-onnxruntime", f"{RUN} --trt-opt-shapes x:1x3", 2, "--trt-opt-shapes"),
    case("trt-tf32-on-onnxruntime", f"{RUN} --trt-tf32", 2, "--trt-tf32"),
    case("native-with-int8-emulation", "run m.onnx --emulate int8 --native", 2, "--native"),
    case("calibration-with-fp16", f"{RUN} --calibration entropy", 2, "--calibration"),
    case("out-of-range-with-int8", "run m.onnx --int8 --out-of-range clamp", 2, "--out-of-range"),
    case("target-providers-with-trt-target", f"{RUN} --target trt --target-providers cpu", 2, "--target-providers"),
    case("providers-with-trt-reference", f"{RUN} --reference trt --providers cpu", 2, "--providers"),
    case("outputs-unknown-tensor", f"{RUN} --outputs nosuch", 2, "nosuch"),
    case("attribute-sample-out-of-range", f"{RUN} --mark-all --attribute-sample 5", 2, "sample 5"),
    case("calibration-data-with-fp16", f"{RUN} --calibration-data inputs.npz", 2, "--calibration-data"),
    case("topk-axis-without-topk", f"{RUN} --topk-axis 1", 2, "--topk-axis"),
    case("divergence-snr-nan", f"{RUN} --divergence-snr nan", 2, "--divergence-snr", "finite"),
    case("min-agreement-above-one", f"{RUN} --min-agreement 2", 2, "--min-agreement"),
    case("load-outputs-foreign-npz", f"{RUN} --load-outputs inputs.npz", 2, "inputs.npz"),
    case("iterations-zero", f"{RUN} --iterations 0", 2, "--iterations"),
    case("unknown-option", f"{RUN} --bogus", 2, "--bogus"),
    case("unknown-group-option", "--bogus run m.onnx", 2, "--bogus"),
    case("missing-model-argument", "run --fp16", 2, "MODEL"),
    case("unknown-command", "frobnicate m.onnx", 2, "frobnicate"),
    case("max-evals-zero", "bisect m.onnx --fp16 --max-evals 0", 2, "--max-evals"),
]

PLANS = [
    case("plan-missing", "run m.onnx --precision-plan nope.json", 2, "nope.json"),
    case("plan-not-json", "run m.onnx --precision-plan p.json", 2, "p.json", files={"p.json": "{default: fp16"}),
    case("plan-a-list", "run m.onnx --precision-plan p.json", 2, "JSON object", files={"p.json": "[]"}),
    case("plan-per-channel-no", "run m.onnx --precision-plan p.json", 2, "'per_channel'", "true or false",
         files={"p.json": _plan(default="int8", per_channel="no")}),
    case("plan-newer-version", "run m.onnx --precision-plan p.json", 2, "newer", "99", files={"p.json": _plan(version=99)}),
    case("plan-version-a-string", "run m.onnx --precision-plan p.json", 2, "'version'", files={"p.json": _plan(version="1")}),
    case("plan-percentile-high", "run m.onnx --precision-plan p.json", 2, "'percentile'", "high",
         files={"p.json": _plan(default="int8", calibration="percentile", percentile="high")}),
    case("plan-percentile-null", "run m.onnx --precision-plan p.json", 2, "'percentile'", "null",
         files={"p.json": _plan(default="int8", calibration="percentile", percentile=None)}),
    case("plan-percentile-zero", "run m.onnx --precision-plan p.json", 2, "'percentile'", files={"p.json": _plan(percentile=0)}),
    case("plan-unknown-precision", "run m.onnx --precision-plan p.json", 2, "'default'", "fp4", files={"p.json": _plan(default="fp4")}),
    case("plan-unknown-key", "run m.onnx --precision-plan p.json", 2, "keep_nodes", files={"p.json": _plan(keep_nodes=[])}),
    case("plan-nodes-a-string", "run m.onnx --precision-plan p.json", 2, "'keep_fp32_nodes'",
         files={"p.json": _plan(keep_fp32_nodes="conv")}),
    case("plan-nodes-numbers", "run m.onnx --precision-plan p.json", 2, "'keep_fp32_nodes[0]'",
         files={"p.json": _plan(keep_fp32_nodes=[1])}),
    case("plan-foreign-format", "run m.onnx --precision-plan p.json", 2, "'format'", files={"p.json": _plan(format="polygraphy")}),
    case("plan-unknown-node", "run m.onnx --precision-plan p.json", 2, "'conv9'", files={"p.json": _plan(keep_fp32_nodes=["conv9"])}),
    case("plan-export-bad-plan", "plan export p.json --model m.onnx -o out.onnx", 2, "'mode'", files={"p.json": _plan(mode="fast")}),
    case("plan-export-missing-model", "plan export plan.json --model nope.onnx -o out.onnx", 2, "nope.onnx"),
]

RESULTS = [
    case("report-missing", "report nope.json -o r.html", 2, "nope.json"),
    case("report-not-json", "report r.json -o r.html", 2, "not valid JSON", files={"r.json": "{"}),
    case("report-a-list", "report r.json -o r.html", 2, "r.json", files={"r.json": "[1, 2]"}),
    case("report-passed-maybe", "report r.json -o r.html", 2, "'passed'", "maybe",
         files={"r.json": edited_json("result.json", _set("passed", "maybe"))}),
    case("report-newer-schema", "report r.json -o r.html", 2, "newer", files={"r.json": edited_json("result.json", _set("schema_version", 99))}),
    case("report-metric-a-word", "report r.json -o r.html", 2, "'tensors[0].max_abs'",
         files={"r.json": edited_json("result.json", lambda d: d["tensors"][0].update(max_abs="big"))}),
    case("report-tensors-not-a-list", "report r.json -o r.html", 2, "'tensors'", files={"r.json": edited_json("result.json", _set("tensors", 3))}),
    case("report-tensor-without-name", "report r.json -o r.html", 2, "'tensors[0].name'",
         files={"r.json": edited_json("result.json", lambda d: d["tensors"][0].pop("name"))}),
    case("report-unknown-status", "report r.json -o r.html", 2, "'tensors[0].status'",
         files={"r.json": edited_json("result.json", lambda d: d["tensors"][0].update(status="weird"))}),
    case("report-settings-missing", "report r.json -o r.html", 2, "settings",
         files={"r.json": edited_json("result.json", lambda d: d.pop("settings"))}),
    case("report-tolerance-a-string", "report r.json -o r.html", 2, "'settings.tolerances.atol'",
         files={"r.json": edited_json("result.json", lambda d: d["settings"]["tolerances"].update(atol="tight"))}),
    case("diff-bad-result", "diff result.json r.json", 2, "'tensors[0].max_abs'",
         files={"r.json": edited_json("result.json", lambda d: d["tensors"][0].update(max_abs=[1]))}),
    case("diff-missing-baseline", "diff result.json nobase/", 2, "nobase"),
    case("diff-baseline-newer-format", "diff result.json base/", 2, "newer", files={"base/baseline.json": json_text({"format": 99})}),
    case("diff-baseline-not-json", "diff result.json base/", 2, "base/baseline.json", files={"base/baseline.json": "{"}),
    case("check-baseline-missing", "check m.onnx --baseline nobase", 2, "nobase"),
    case("check-baseline-field-wrong", "check m.onnx --baseline base", 2, "'format'",
         files={"base/baseline.json": json_text({"format": "one"})}),
]

STATES = [
    case("state-not-json", "bisect m.onnx --fp16 --state s.json", 2, "s.json", files={"s.json": "{not json"}),
    case("state-newer-version", "bisect m.onnx --fp16 --state s.json", 2, "newer", files={"s.json": _state(version=99)}),
    case("state-passed-yes", "bisect m.onnx --fp16 --state s.json", 2, "'evaluations[0].passed'",
         files={"s.json": _state(evaluations=[{"fp32": [], "passed": "yes"}])}),
    case("state-fp32-a-string", "bisect m.onnx --fp16 --state s.json", 2, "'evaluations[0].fp32'",
         files={"s.json": _state(evaluations=[{"fp32": "conv", "passed": True}])}),
    case("state-another-model", "bisect m.onnx --fp16 --state s.json", 2, "another model", files={"s.json": _state()}),
    case("ranking-unknown-node", "bisect m.onnx --fp16 --ranking r.txt", 2, "'conv9'", files={"r.txt": "conv9\nrelu\n"}),
    case("ranking-json-numbers", "bisect m.onnx --fp16 --ranking r.json", 2, "'ranking[0]'", files={"r.json": "[1, 2]"}),
    case("ranking-missing", "bisect m.onnx --fp16 --ranking r.txt", 2, "r.txt"),
]

def _one_sample(path: Path) -> None:
    np.savez(path, x=np.ones((1, 3, 8, 8), np.float32))


OUTPUT_PATHS = [
    case("json-over-the-model", "run m.onnx --fp16 --json m.onnx", 2, "--json", "the MODEL"),
    case("json-and-report-same-path", "run m.onnx --fp16 --json x --report x", 2, "--json", "--report"),
    case("report-over-its-result", "report result.json -o result.json", 2, "result"),
    case("report-default-over-its-result", "report r.html", 2, "r.html", "-o", files={"r.html": edited_json("result.json", lambda d: None)}),
    case("json-into-a-folder", "run m.onnx --fp16 --json folder", 2, "folder", files={"folder/x": "x"}),
    case("json-under-a-file", "run m.onnx --fp16 --json plan.json/r.json", 2, "plan.json"),
    case("save-inputs-over-load-inputs", f"{RUN} --load-inputs inputs.npz --save-inputs inputs.npz", 2, "--save-inputs"),
    case("save-outputs-over-plan", "run m.onnx --precision-plan plan.json --save-outputs plan.json", 2, "--save-outputs"),
    case("bisect-folder-is-the-model", "bisect m.onnx --fp16 -o m.onnx", 2, "m.onnx"),
    case("bisect-state-over-the-model", "bisect m.onnx --fp16 --state m.onnx", 2, "--state", "the MODEL"),
    case("bisect-json-and-report-same", "bisect m.onnx --fp16 --json b --report b", 2, "--json", "--report"),
    case("split-folder-is-stdout", "split m.onnx -o -", 2, "-o"),
    case("plan-export-over-the-plan", "plan export plan.json --model m.onnx --format trtdiff -o plan.json", 2, "plan"),
    case("diff-json-over-old", "diff result.json result.json --json result.json", 2, "--json", "the OLD"),
    case("baseline-save-folder-is-a-file", "baseline save m.onnx --fp16 -o plan.json", 2, "plan.json"),
    case("baseline-save-to-stdout", "baseline save m.onnx --fp16 -o -", 2, "-o"),
    case("check-report-over-the-model", "check m.onnx --baseline base --report m.onnx", 2, "--report", "the MODEL",
         files={"base/baseline.json": "{}"}),
    case("build-engine-to-stdout", "build m.onnx --fp16 -o -", 2, "-o -", "sidecar"),
    case("build-engine-over-the-model", "build m.onnx --fp16 -o m.onnx", 2, "-o", "the MODEL"),
    case("json-to-full-device", "run m.onnx --fp16 --json full", 2, "full", files={"full": device_copy(1, 7)}),
    case("save-inputs-into-the-load-inputs-folder", f"{RUN} --load-inputs data --save-inputs data/more.npz", 2,
         "--save-inputs", "inside the --load-inputs folder", files={"data/s0.npz": _one_sample}),
    case("save-outputs-into-the-calibration-folder",
         "run m.onnx --int8 --calibration-data data --save-outputs data/golden.npz", 2, "--save-outputs",
         "inside the --calibration-data folder", files={"data/s0.npz": _one_sample}),
]

CASES: list[Case] = MODEL_FILES + INPUT_FILES + OPTION_VALUES + PLANS + RESULTS + STATES + OUTPUT_PATHS


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    folder = tmp_path_factory.mktemp("workspace")
    build_workspace(folder)
    return folder


def test_the_corpus_is_large_and_names_are_unique():
    assert len(CASES) >= 80
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("bad", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_line_with_nothing_left_or_changed(bad: Case, workspace, tmp_path, monkeypatch):
    copy_workspace(workspace, tmp_path)
    add_files(tmp_path, bad.files)
    before = snapshot(tmp_path)
    monkeypatch.chdir(tmp_path)
    result = invoke(bad.args)
    assert result.exit_code == bad.code, result.output
    line = check_one_error_line(result.stderr, bad.code)
    for fragment in bad.says:
        assert fragment in line, line
    assert snapshot(tmp_path) == before, "a refused command left or changed a file"


def test_the_issue_demo_failures_are_clean(workspace, tmp_path, monkeypatch):
    """The failures the issue reproduced on the demo model, each now one clean line."""
    copy_workspace(workspace, tmp_path)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.json").write_text(json.dumps([{"images": {"array": 5}}]))
    for args in (["--load-inputs", "p.json"], ["--seed", "-1"], ["--input-shapes", "images:2x3x64x64"]):
        result = invoke(["run", str(DEMO), "--fp16", *args])
        assert result.exit_code == 2, result.output
        check_one_error_line(result.stderr, 2)
