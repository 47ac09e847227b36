"""A precision plan in the forms other tools take.

    onnx         the mixed-precision model itself (what a TensorRT 11 build consumes)
    trtdiff      the plan as JSON (`--precision-plan`)
    modelopt     ModelOpt AutoCast (fp16/bf16) or ModelOpt quantization (int8/fp8) settings:
                 nodes_to_exclude (anchored regexes: AutoCast applies re.match) and
                 op_types_to_exclude, with the command line
    onnxruntime  onnxconverter-common `convert_float_to_float16(node_block_list=...)` (fp16), or
                 ONNX Runtime `quantize_static(nodes_to_exclude=...)` (int8)
    trtexec      `--precisionConstraints=obey --layerPrecisions=...` (TensorRT <= 10.x only)
    polygraphy   layer precisions as JSON, with the `polygraphy run` arguments (TensorRT <= 10.x)

Only the plan's own choices are exported (nodes and op types kept in FP32): each tool applies
its own rules for ops without a lower-precision form. trtexec and Polygraphy name layers, not op
types, so op types are expanded to the model's node names; TensorRT's ONNX parser names each
layer after its node.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from trtdiff.fileio import write_text_atomic
from trtdiff.errors import UsageError
from trtdiff.model import save_model
from trtdiff.precision.apply import apply_plan
from trtdiff.precision.plan import PrecisionPlan, validate_plan

FORMATS = ("onnx", "trtdiff", "modelopt", "onnxruntime", "trtexec", "polygraphy")
TEXT_FORMATS = FORMATS[1:]
FILE_NAMES = {"trtdiff": "plan.json", "modelopt": "modelopt.json", "onnxruntime": "onnxruntime.json",
              "trtexec": "trtexec.txt", "polygraphy": "polygraphy.json"}
TRT_FLAG = {"fp16": "--fp16", "bf16": "--bf16", "int8": "--int8", "fp8": "--fp8"}
TRT_10_ONLY = ("TensorRT <= 10.x only: TensorRT 11 removed weak typing (--fp16/--int8, "
               "--precisionConstraints, --layerPrecisions); for TensorRT 11 build the exported "
               "ONNX model with --stronglyTyped")


def kept_layers(plan: PrecisionPlan, model: onnx.ModelProto) -> list[str]:
    """Main-graph node names the plan keeps in FP32, op types expanded, in model order."""
    return [n.name for n in model.graph.node if n.name and plan.keeps(n)]


def modelopt_text(plan: PrecisionPlan, model: onnx.ModelProto, model_path: str = "model.onnx") -> str:
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
                  "command": shlex.join(args)})


def _modelopt_calibration(plan: PrecisionPlan) -> str:
    return {"minmax": "max", "entropy": "entropy", "percentile": "max"}[plan.calibration]


def onnxruntime_text(plan: PrecisionPlan, model: onnx.ModelProto, model_path: str = "model.onnx") -> str:
    """fp16: onnxconverter-common's converter; int8: ONNX Runtime's static Q/DQ quantizer."""
    nodes = list(plan.keep_fp32_nodes)
    if plan.default == "fp16":
        ops = list(plan.keep_fp32_ops)
        python = ("from onnxconverter_common import float16\n"
                  f"model = float16.convert_float_to_float16(model, keep_io_types={plan.keep_io_types}, "
                  f"node_block_list={nodes!r}, "
                  f"op_block_list=float16.DEFAULT_OP_BLOCK_LIST + {ops!r})")
        return _json({"tool": "onnxconverter_common.float16.convert_float_to_float16",
                      "keep_io_types": plan.keep_io_types, "node_block_list": nodes,
                      "op_block_list_additions": ops, "python": python})
    if plan.default == "int8":
        excluded = sorted(set(nodes) | set(kept_layers(plan, model)))
        method = {"minmax": "MinMax", "percentile": "Percentile", "entropy": "Entropy"}[plan.calibration]
        python = ("from onnxruntime.quantization import CalibrationMethod, QuantFormat, quantize_static\n"
                  f"quantize_static({model_path!r}, 'model.int8.onnx', reader, quant_format=QuantFormat.QDQ, "
                  f"per_channel={plan.per_channel}, nodes_to_exclude={excluded!r}, "
                  f"calibrate_method=CalibrationMethod.{method}, "
                  "extra_options={'ActivationSymmetric': True, 'WeightSymmetric': True})")
        return _json({"tool": "onnxruntime.quantization.quantize_static", "quant_format": "QDQ",
                      "per_channel": plan.per_channel, "nodes_to_exclude": excluded,
                      "calibrate_method": method, "python": python})
    raise UsageError(f"no onnxruntime export for {plan.default}",
                     "onnxconverter-common converts to fp16 only; ONNX Runtime quantizes to int8",
                     f"use --format onnx or --format modelopt for {plan.default}")


def trtexec_text(plan: PrecisionPlan, model: onnx.ModelProto, model_path: str = "model.onnx") -> str:
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


def polygraphy_text(plan: PrecisionPlan, model: onnx.ModelProto, model_path: str = "model.onnx") -> str:
    layers = {name: "float32" for name in kept_layers(plan, model)}
    args = ["polygraphy", "run", model_path, "--trt", TRT_FLAG.get(plan.default, "")]
    if layers:
        args += ["--precision-constraints", "obey", "--layer-precisions",
                 *(f"{name}:{value}" for name, value in layers.items())]
    return _json({"tool": "polygraphy", "note": TRT_10_ONLY, "layer_precisions": layers,
                  "precision_constraints": "obey" if layers else "none",
                  "command": shlex.join([a for a in args if a])})


def _json(data: Mapping[str, Any]) -> str:
    return json.dumps(data, indent=2) + "\n"


TEXT_EXPORTERS: dict[str, Callable[[PrecisionPlan, onnx.ModelProto, str], str]] = {
    "modelopt": modelopt_text,
    "onnxruntime": onnxruntime_text,
    "trtexec": trtexec_text,
    "polygraphy": polygraphy_text,
}


def export_text(plan: PrecisionPlan, model: onnx.ModelProto, fmt: str,
                model_path: str = "model.onnx") -> str:
    """The text of one small format (every format but `onnx`)."""
    if fmt not in TEXT_FORMATS:
        raise UsageError(f"unknown export format '{fmt}'", f"text formats: {', '.join(TEXT_FORMATS)}",
                         "choose one of them (`onnx` writes a model file)")
    validate_plan(plan, model)
    if fmt == "trtdiff":
        return plan.to_json()
    return TEXT_EXPORTERS[fmt](plan, model, model_path)


def export_texts(plan: PrecisionPlan, model: onnx.ModelProto,
                 model_path: str = "model.onnx") -> dict[str, str]:
    """Format name -> text, for each small format that applies to this plan (the HTML report's
    copyable exports). `onnxruntime` is left out for bf16 and fp8, which it cannot express."""
    texts = {}
    for fmt in TEXT_FORMATS:
        if fmt == "onnxruntime" and plan.default not in ("fp16", "int8"):
            continue
        texts[fmt] = export_text(plan, model, fmt, model_path)
    return texts


def export_plan(plan: PrecisionPlan, model: onnx.ModelProto, fmt: str, path: str | Path,
                calibration_feeds: Sequence[Mapping[str, np.ndarray]] | None = None, *,
                ranges: Mapping[str, tuple[float, float]] | None = None,
                model_path: str = "model.onnx") -> Path:
    """Write one format to `path`. `onnx` writes the transformed model (int8/fp8 need
    calibration feeds or ranges); the others write their text."""
    target = Path(path)
    if fmt == "onnx":
        save_model(apply_plan(model, plan, calibration_feeds, ranges=ranges).model, target)
        return target
    write_text_atomic(target, export_text(plan, model, fmt, model_path))
    return target


def export_all(plan: PrecisionPlan, model: onnx.ModelProto, directory: str | Path,
               calibration_feeds: Sequence[Mapping[str, np.ndarray]] | None = None, *,
               ranges: Mapping[str, tuple[float, float]] | None = None,
               model_path: str = "model.onnx") -> dict[str, Path]:
    """Every applicable format into `directory`: format name -> file written."""
    folder = Path(directory)
    written = {}
    for fmt, text in export_texts(plan, model, model_path).items():
        written[fmt] = folder / FILE_NAMES[fmt]
        write_text_atomic(written[fmt], text)
    if plan.lowers:
        onnx_path = folder / f"model.{plan.default}{'.emulated' if plan.mode == 'emulated' else ''}.onnx"
        written["onnx"] = export_plan(plan, model, "onnx", onnx_path, calibration_feeds, ranges=ranges)
    return written
