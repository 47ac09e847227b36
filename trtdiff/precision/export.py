"""A precision plan in the forms other tools take.

    onnx         the mixed-precision model to deploy: native (lower-precision weights and
                 activations, Casts only where FP32 nodes meet lowered ones) whatever mode the plan
                 was evaluated in; the emulated model (FP32 compute, Cast pairs) only on request,
                 named `*.emulated.onnx`
    trtdiff      the plan as JSON (`--precision-plan`): what to deploy, and how it was evaluated
    modelopt     ModelOpt AutoCast (fp16/bf16) or ModelOpt quantization (int8/fp8) settings:
                 nodes_to_exclude (anchored regexes: AutoCast applies re.match) and
                 op_types_to_exclude, with the command line
    onnxruntime  onnxconverter-common `convert_float_to_float16(node_block_list=...)` (fp16), or
                 ONNX Runtime `quantize_static(nodes_to_exclude=...)` (int8)
    trtexec      `--precisionConstraints=obey --layerPrecisions=...` (TensorRT <= 10.x only)
    polygraphy   layer precisions as JSON, with the `polygraphy run` arguments (TensorRT <= 10.x)

Every export carries the whole FP32 set (fp32set.py): the plan's own nodes and op types and every
node its application keeps in FP32 by a rule (a constant beyond the type's range, an op with no
lower-precision form), so that another tool applying it keeps exactly what trtdiff evaluated.
trtexec and Polygraphy name layers, not op types, so op types are expanded to the model's node
names; TensorRT's ONNX parser names each layer after its node.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from trtdiff.errors import UsageError
from trtdiff.fileio import write_text_atomic
from trtdiff.model import ensure_node_names, save_model
from trtdiff.precision.apply import apply_plan
from trtdiff.precision.fp32set import Fp32Set, plan_fp32_set
from trtdiff.precision.plan import PrecisionPlan, validate_plan

FORMATS = ("onnx", "trtdiff", "modelopt", "onnxruntime", "trtexec", "polygraphy")
TEXT_FORMATS = FORMATS[1:]
FILE_NAMES = {"trtdiff": "plan.json", "modelopt": "modelopt.json", "onnxruntime": "onnxruntime.json",
              "trtexec": "trtexec.txt", "polygraphy": "polygraphy.json"}
TRT_FLAG = {"fp16": "--fp16", "bf16": "--bf16", "int8": "--int8", "fp8": "--fp8"}
TRT_10_ONLY = ("TensorRT <= 10.x only: TensorRT 11 removed weak typing (--fp16/--int8, "
               "--precisionConstraints, --layerPrecisions); for TensorRT 11 build the exported "
               "ONNX model with --stronglyTyped")
QUANTIZED_OPS = ["Conv", "ConvTranspose", "Gemm", "MatMul"]  # what trtdiff's native INT8 quantizes
FP16_LIMIT = 65504.0


def kept_layers(plan: PrecisionPlan, model: onnx.ModelProto) -> list[str]:
    """Main-graph node names the plan keeps in FP32, op types expanded, in model order."""
    return [n.name for n in model.graph.node if n.name and plan.keeps(n)]


def modelopt_text(plan: PrecisionPlan, model: onnx.ModelProto, model_path: str, fp32: Fp32Set) -> str:
    nodes = ["^" + re.escape(name) + "$" for name in plan.keep_fp32_nodes]
    ops = list(plan.keep_fp32_ops)
    if plan.default in ("fp16", "bf16"):
        tool = "modelopt.onnx.autocast"
        settings: dict[str, Any] = {"low_precision_type": plan.default, "keep_io_types": plan.keep_io_types}
        args = ["python", "-m", tool, "--onnx_path", model_path, "--low_precision_type", plan.default]
        args += ["--keep_io_types"] if plan.keep_io_types else []
    else:
        tool = "modelopt.onnx.quantization"
        settings = {"quantize_mode": plan.default, "calibration_method": _modelopt_calibration(plan)}
        args = ["python", "-m", tool, "--onnx_path", model_path, "--quantize_mode", plan.default,
                "--calibration_method", settings["calibration_method"]]
    args += ["--nodes_to_exclude", *nodes] if nodes else []
    args += ["--op_types_to_exclude", *ops] if ops else []
    return _json({"tool": tool, **settings, "nodes_to_exclude": nodes, "op_types_to_exclude": ops,
                  "command": shlex.join(args), "fp32_nodes": fp32.reasons()})


def _modelopt_calibration(plan: PrecisionPlan) -> str:
    return {"minmax": "max", "entropy": "entropy", "percentile": "max"}[plan.calibration]


def onnxruntime_text(plan: PrecisionPlan, model: onnx.ModelProto, model_path: str, fp32: Fp32Set) -> str:
    """fp16: onnxconverter-common's converter, set to convert as trtdiff does (its default op
    block list replaced by the plan's op types, constants rounded, not clamped to 1e4 or raised
    to 1e-7); int8: ONNX Runtime's static Q/DQ quantizer on the ops trtdiff quantizes."""
    nodes = list(plan.keep_fp32_nodes)
    if plan.default == "fp16":
        return _onnxconverter_text(plan, model, nodes, fp32)
    if plan.default == "int8":
        excluded = sorted(set(nodes) | set(kept_layers(plan, model)))
        method = {"minmax": "MinMax", "percentile": "Percentile", "entropy": "Entropy"}[plan.calibration]
        # quantize as trtdiff's native INT8 does: symmetric, inputs of these ops only (no output Q/DQ,
        # bias left in float), MatMul weights per output channel
        extra = {"ActivationSymmetric": True, "WeightSymmetric": True, "QuantizeBias": False,
                 "OpTypesToExcludeOutputQuantization": QUANTIZED_OPS,
                 "QDQOpTypePerChannelSupportToAxis": {"MatMul": 1} if plan.per_channel else {}}
        python = ("from onnxruntime.quantization import CalibrationMethod, QuantFormat, quantize_static\n"
                  f"quantize_static({model_path!r}, 'model.int8.onnx', reader, quant_format=QuantFormat.QDQ, "
                  f"per_channel={plan.per_channel}, op_types_to_quantize={QUANTIZED_OPS!r}, "
                  f"nodes_to_exclude={excluded!r}, calibrate_method=CalibrationMethod.{method}, "
                  f"extra_options={extra!r})")
        return _json({"tool": "onnxruntime.quantization.quantize_static", "quant_format": "QDQ",
                      "per_channel": plan.per_channel, "op_types_to_quantize": QUANTIZED_OPS,
                      "nodes_to_exclude": excluded, "calibrate_method": method, "extra_options": extra,
                      "python": python, "fp32_nodes": fp32.reasons()})
    raise UsageError(f"no onnxruntime export for {plan.default}",
                     "onnxconverter-common converts to fp16 only; ONNX Runtime quantizes to int8",
                     f"use --format onnx or --format modelopt for {plan.default}")


# ops whose scales/roi input must stay tensor(float) while their data input is lowered: trtdiff's
# conversion keeps that input float, onnxconverter-common converts it to float16 (which ONNX refuses)
FLOAT_SCALES_OPS = ("Resize", "Upsample")


# onnxconverter-common matches node names: a model with unnamed (or repeated) names gets trtdiff's.
# It also gives every Constant node's value float16 (blocked, its output is cast to float16), while
# an initializer read only by blocked nodes stays float32: Constants become initializers first.
NAMING = ("seen = set()\n"
          "for position, node in enumerate(model.graph.node):  # trtdiff's names: <op_type>_<position>\n"
          "    if not node.name or node.name in seen:\n"
          "        base = name = f'{node.op_type}_{position}'\n"
          "        suffix = 1\n"
          "        while name in seen:\n"
          "            name, suffix = f'{base}_{suffix}', suffix + 1\n"
          "        node.name = name\n"
          "    seen.add(node.name)\n")
PRELUDE = (NAMING +
           "for node in [n for n in model.graph.node if n.op_type == 'Constant' and len(n.attribute) == 1\n"
           "             and n.attribute[0].name == 'value']:  # Constants as initializers\n"
           "    model.graph.initializer.append(node.attribute[0].t)\n"
           "    model.graph.initializer[-1].name = node.output[0]\n"
           "    model.graph.node.remove(node)\n")


def _onnxconverter_text(plan: PrecisionPlan, model: onnx.ModelProto, nodes: list[str], fp32: Fp32Set) -> str:
    """The block list is the FP32 set, plus the Resize/Upsample nodes trtdiff lowers
    (`scales_kept`): onnxconverter-common would give them float16 scales, an invalid model;
    blocked, they resample in FP32 between Casts (nearest: the same values). `python` first names
    the nodes as trtdiff does (an unnamed node is `<op_type>_<position>`: paddle2onnx leaves its
    weight Constants unnamed) and turns Constant nodes into initializers (see PRELUDE)."""
    named = onnx.ModelProto()
    named.CopyFrom(model)
    ensure_node_names(named)
    kept = set(nodes) | set(kept_layers(plan, named))
    scales_kept = [n.name for n in named.graph.node if n.op_type in FLOAT_SCALES_OPS and n.name not in kept]
    settings = {"keep_io_types": plan.keep_io_types, "node_block_list": nodes + scales_kept,
                "op_block_list": list(plan.keep_fp32_ops), "min_positive_val": 0.0, "max_finite_val": FP16_LIMIT}
    python = ("from onnxconverter_common import float16\n" + PRELUDE
              + "model = float16.convert_float_to_float16(model, "
              + ", ".join(f"{key}={value!r}" for key, value in settings.items()) + ")")
    notes: dict[str, Any] = {
        "note": "op_block_list replaces float16.DEFAULT_OP_BLOCK_LIST: the ops trtdiff lowered are the ops it "
                "evaluated in fp16",
        "prelude": "run `python` as it is: it names the nodes as trtdiff does and makes Constant nodes "
                   "initializers (onnxconverter-common rounds every Constant's value to float16)",
        "limits": "onnxconverter-common routes an FP32 tensor that FP16 nodes also read through float16 for every "
                  "reader; where that matters, deploy the native model trtdiff writes (--format onnx)"}
    if scales_kept:
        notes["scales_kept"] = {name: "onnxconverter-common would convert its float scales to float16, which ONNX "
                                      "refuses; blocked, it resamples in FP32 between Casts (nearest: the same values "
                                      "trtdiff evaluated in fp16)" for name in scales_kept}
    return _json({"tool": "onnxconverter_common.float16.convert_float_to_float16", **settings,
                  "python": python, "fp32_nodes": fp32.reasons(), **notes})


def trtexec_text(plan: PrecisionPlan, model: onnx.ModelProto, model_path: str, fp32: Fp32Set) -> str:
    layers = kept_layers(plan, model)
    unusable = [n for n in layers if "," in n or "'" in n]
    if unusable:
        raise UsageError(f"trtexec cannot name layer '{unusable[0]}'",
                         "--layerPrecisions splits on commas and quotes",
                         "rename the node, or use the ONNX or Polygraphy export")
    spec = ",".join(f"{_trtexec_name(n)}:fp32" for n in layers)
    args = ["trtexec", f"--onnx={model_path}", TRT_FLAG.get(plan.default, "")]
    if layers:
        args += ["--precisionConstraints=obey", f"--layerPrecisions={spec}", f"--layerOutputTypes={spec}"]
    return f"# {TRT_10_ONLY}\n" + " ".join(shlex.quote(a) for a in args if a) + "\n"


def _trtexec_name(name: str) -> str:
    return f"'{name}'" if ":" in name else name  # trtexec splits name:value at the last colon


def parse_trtexec_layer_precisions(spec: str) -> dict[str, str]:
    """Read a --layerPrecisions value back the way trtexec does (split on ',', then on the last
    ':' outside quotes)."""
    result = {}
    for item in spec.split(","):
        if "'" in item:
            _, name, value = item.split("'")
            result[name] = value[1:]
        else:
            name, _, value = item.rpartition(":")
            result[name] = value
    return result


def polygraphy_text(plan: PrecisionPlan, model: onnx.ModelProto, model_path: str, fp32: Fp32Set) -> str:
    layers = {name: "float32" for name in kept_layers(plan, model)}
    args = ["polygraphy", "run", model_path, "--trt", TRT_FLAG.get(plan.default, "")]
    if layers:
        args += ["--precision-constraints", "obey", "--layer-precisions",
                 *(f"{name}:{value}" for name, value in layers.items())]
    return _json({"tool": "polygraphy", "note": TRT_10_ONLY, "layer_precisions": layers,
                  "precision_constraints": "obey" if layers else "none",
                  "command": shlex.join([a for a in args if a]), "fp32_nodes": fp32.reasons()})


# tools that find nodes by the name the model file gives them (onnxconverter-common's snippet names
# them itself): a node the file leaves unnamed is found only in a copy named as trtdiff names it
NAME_MATCHING = ("modelopt", "onnxruntime", "trtexec", "polygraphy")


def unnamed_in_file(model: onnx.ModelProto, names: Sequence[str]) -> list[str]:
    """Those of `names` that look given by trtdiff to a node the file left unnamed (or named twice):
    `<op_type>_<position>[_k]` at that node's position (`trtdiff.model.ensure_node_names`)."""
    wanted = set(names)
    return [node.name for position, node in enumerate(model.graph.node) if node.name in wanted
            and re.fullmatch(re.escape(f"{node.op_type}_{position}") + r"(_\d+)?", node.name)]


def named_model_path(model_path: str) -> str:
    """Where the naming step writes the copy of the model with every node named: `x.onnx` -> `x.named.onnx`."""
    path = Path(model_path)
    return str(path.with_name(f"{path.stem}.named{path.suffix or '.onnx'}"))


def naming_script(model_path: str) -> str:
    """Python that writes `named_model_path(model_path)`: the model with every node named as trtdiff names it."""
    # external data stays where it is: the copy lies beside the model, so its references still hold
    return (f"import onnx\nmodel = onnx.load({model_path!r}, load_external_data=False)\n" + NAMING
            + f"onnx.save(model, {named_model_path(model_path)!r})\n")


def _with_naming_step(fmt: str, text: str, renamed: Sequence[str], model_path: str) -> str:
    """An export that names nodes the file leaves unnamed, with the step that names them first (its
    command already reads the named copy)."""
    why = (f"{len(renamed)} node(s) it lists have no name (or a repeated one) in {model_path}; trtdiff calls "
           f"them <op_type>_<position>. Run `python` first: it writes {named_model_path(model_path)} with those "
           "names, which the command reads")
    if fmt == "trtexec":
        return (f"# {why}\npython3 - <<'EOF'\n{naming_script(model_path)}EOF\n" + text)
    data = json.loads(text)
    data["unnamed_in_file"] = {"nodes": list(renamed), "note": why, "python": naming_script(model_path)}
    return _json(data)


def _json(data: Mapping[str, Any]) -> str:
    return json.dumps(data, indent=2) + "\n"


TEXT_EXPORTERS: dict[str, Callable[[PrecisionPlan, onnx.ModelProto, str, Fp32Set], str]] = {
    "modelopt": modelopt_text,
    "onnxruntime": onnxruntime_text,
    "trtexec": trtexec_text,
    "polygraphy": polygraphy_text,
}


def export_text(plan: PrecisionPlan, model: onnx.ModelProto, fmt: str, model_path: str = "model.onnx",
                fp32: Fp32Set | None = None, evaluated: Mapping[str, Any] | None = None) -> str:
    """The text of one small format (every format but `onnx`), carrying the whole FP32 set:
    `fp32` when the caller has it (bisect), else the set of `plan` applied to `model`."""
    if fmt not in TEXT_FORMATS:
        raise UsageError(f"unknown export format '{fmt}'", f"text formats: {', '.join(TEXT_FORMATS)}",
                         "choose one of them (`onnx` writes a model file)")
    return export_texts(plan, model, model_path, fp32, evaluated, formats=(fmt,))[fmt]


def export_texts(plan: PrecisionPlan, model: onnx.ModelProto, model_path: str = "model.onnx",
                 fp32: Fp32Set | None = None, evaluated: Mapping[str, Any] | None = None,
                 formats: Sequence[str] = TEXT_FORMATS) -> dict[str, str]:
    """Format name -> text, for each small format that applies to this plan (the HTML report's
    copyable exports). `onnxruntime` is left out for bf16 and fp8, which it cannot express
    (unless asked for by name). `evaluated` (how the plan was evaluated) goes into the plan JSON."""
    validate_plan(plan, model)
    fp32 = fp32 if fp32 is not None else plan_fp32_set(model, plan)
    whole = fp32.plan(plan)
    renamed = unnamed_in_file(model, [*whole.keep_fp32_nodes, *kept_layers(whole, model)])
    texts = {}
    for fmt in formats:
        if fmt == "onnxruntime" and plan.default not in ("fp16", "int8") and len(formats) > 1:
            continue
        if fmt == "trtdiff":
            texts[fmt] = plan_json(whole, fp32, evaluated)
        elif renamed and fmt in NAME_MATCHING and not (fmt == "onnxruntime" and plan.default == "fp16"):
            text = TEXT_EXPORTERS[fmt](whole, model, named_model_path(model_path), fp32)
            texts[fmt] = _with_naming_step(fmt, text, renamed, model_path)
        else:
            texts[fmt] = TEXT_EXPORTERS[fmt](whole, model, model_path, fp32)
    return texts


def plan_json(plan: PrecisionPlan, fp32: Fp32Set, evaluated: Mapping[str, Any] | None) -> str:
    """The plan to deploy (native) with the whole FP32 set and why each node is in it; how it was
    evaluated, when known, under its own key (read back, `evaluated` and `fp32_nodes` are notes)."""
    data = dataclasses.replace(plan, mode="native").to_dict() if plan.lowers else plan.to_dict()
    data["fp32_nodes"] = fp32.reasons()
    if evaluated:
        data["evaluated"] = dict(evaluated)
    return _json(data)


def export_plan(plan: PrecisionPlan, model: onnx.ModelProto, fmt: str, path: str | Path,
                calibration_feeds: Sequence[Mapping[str, np.ndarray]] | None = None, *,
                ranges: Mapping[str, tuple[float, float]] | None = None,
                model_path: str = "model.onnx", emulated: bool = False) -> Path:
    """Write one format to `path`. `onnx` writes the native model to deploy (the emulated one
    when `emulated`); int8/fp8 need calibration feeds or ranges. The others write their text."""
    target = Path(path)
    if fmt == "onnx":
        save_model(mixed_model(plan, model, calibration_feeds, ranges=ranges, emulated=emulated), target)
        return target
    write_text_atomic(target, export_text(plan, model, fmt, model_path))
    return target


def mixed_model(plan: PrecisionPlan, model: onnx.ModelProto,
                calibration_feeds: Sequence[Mapping[str, np.ndarray]] | None = None, *,
                ranges: Mapping[str, tuple[float, float]] | None = None, emulated: bool = False) -> onnx.ModelProto:
    """The plan applied natively (what a TensorRT 11 build consumes), or emulated on request."""
    mode = "emulated" if emulated else "native"
    return apply_plan(model, dataclasses.replace(plan, mode=mode), calibration_feeds, ranges=ranges).model


def model_file_name(plan: PrecisionPlan, emulated: bool = False) -> str:
    return f"model.{plan.default}{'.emulated' if emulated else ''}.onnx"


def export_all(plan: PrecisionPlan, model: onnx.ModelProto, directory: str | Path,
               calibration_feeds: Sequence[Mapping[str, np.ndarray]] | None = None, *,
               ranges: Mapping[str, tuple[float, float]] | None = None,
               model_path: str = "model.onnx", fp32: Fp32Set | None = None,
               evaluated: Mapping[str, Any] | None = None, emulated: bool = False) -> dict[str, Path]:
    """Every applicable format into `directory`: format name -> file written. The model is the
    native one (`onnx`); with `emulated`, the emulated one too (`onnx_emulated`). Everything is
    made before the first file is written: a plan that cannot be applied (INT8 without calibration
    data) leaves no partial set behind."""
    folder = Path(directory)
    texts = export_texts(plan, model, model_path, fp32, evaluated)
    models = {key: (model_file_name(plan, emulate), mixed_model(plan, model, calibration_feeds, ranges=ranges,
                                                                 emulated=emulate))
              for key, emulate in (("onnx", False), ("onnx_emulated", True))[: 1 + emulated]} if plan.lowers else {}
    written = {}
    for fmt, text in texts.items():
        written[fmt] = folder / FILE_NAMES[fmt]
        write_text_atomic(written[fmt], text)
    for key, (name, made) in models.items():
        written[key] = folder / name
        save_model(made, written[key])
    return written
