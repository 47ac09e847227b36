"""Build a TensorRT engine of a precision plan without running it (`trtdiff build`).

The same target `run --target trt` compares: the plan applied to the model as an ONNX transform
(FP16/BF16 conversion, INT8/FP8 Q/DQ calibrated on the inputs), parsed and built by TensorRT,
saved with its `.trtdiff.json` sidecar. Nothing is deserialized, so it works wherever the
builder works: TensorRT-RTX builds on a CPU with no GPU, for the compute capabilities chosen
(`--trt-compute-capability`; its default set otherwise). The engine can then be taken to a
machine that runs it, and `trtdiff run MODEL --target trt --load-engine ENGINE` with the same
precision options compares it there.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import onnx

from trtdiff.fileio import ensure_writable
from trtdiff.inputs import InputSettings
from trtdiff.model import load_model
from trtdiff.precision.plan import PrecisionPlan
from trtdiff.trt.options import TrtOptions


@dataclass(frozen=True)
class EngineBuild:
    """What `build_engine_for_plan` produced."""

    engine: Path
    sidecar: Path
    builder: str  # e.g. "TensorRT-RTX 1.7.1.116"
    precision: str  # the plan in words, "fp32 (model as given)" without one
    mode: str  # how the engine exposes intermediate tensors
    compute_capabilities: tuple[str, ...]  # RTX targets; () = the module's default
    runs_on: str  # the GPUs the engine runs on, in words
    build_seconds: float
    warnings: tuple[str, ...]  # from applying the plan


def target_model(model: onnx.ModelProto, plan: PrecisionPlan | None, inputs: InputSettings,
                 calibration_data: str | None = None,
                 ) -> tuple[onnx.ModelProto, dict[str, tuple[int, ...]], tuple[str, ...]]:
    """(the model with the plan applied, the first sample's input shapes, the plan's warnings).
    INT8/FP8 scales are calibrated as `run` calibrates them: on --calibration-data when given,
    else on the samples the input options name. With calibration data and no input option, its
    first sample gives the shapes (a dynamic model needs no --input-shapes then)."""
    from trtdiff.dataset import DataSet, open_dataset, open_path
    from trtdiff.inputs import input_specs
    from trtdiff.precision.apply import apply_plan

    specs = input_specs(model)
    calibration = DataSet(open_path(calibration_data, inputs.batched_npz), specs) if calibration_data else None
    given = inputs.load_path or inputs.loader_script or inputs.shapes
    dataset = open_dataset(inputs, specs) if given or calibration is None else calibration
    shapes = {name: tuple(array.shape) for name, array in dataset.sample(0).items()}
    if plan is None or not plan.lowers:
        return model, shapes, ()
    applied = apply_plan(model, plan, calibration if calibration is not None else dataset)  # type: ignore[arg-type]
    return applied.model, shapes, tuple(applied.warnings)


def build_engine_for_plan(model_path: str | Path, plan: PrecisionPlan | None, options: TrtOptions,
                          output: str | Path, inputs: InputSettings | None = None,
                          calibration_data: str | None = None) -> EngineBuild:
    """Apply `plan` to the model at `model_path`, build it with TensorRT and save the engine at
    `output` (sidecar beside it). Where no profile shapes are given, the inputs' shapes fix
    the profile (as in `run`), so `--input-shapes` alone is enough for a dynamic model."""
    from trtdiff.runners.trt_source import build_engine
    from trtdiff.trt.plan import sidecar_path

    ensure_writable(output, "-o/--output")
    model = load_model(str(model_path))
    built_model, shapes, warnings = target_model(model, plan, inputs or InputSettings({}, {}),
                                                 calibration_data)
    if not (options.min_shapes or options.opt_shapes or options.max_shapes):
        options = replace(options, opt_shapes=shapes)
    built = build_engine(built_model, options, output)
    return EngineBuild(
        engine=built.path, sidecar=sidecar_path(built.path), builder=built.label,
        precision=plan.describe() if plan is not None else "fp32 (model as given)",
        mode=built.facts.mode, compute_capabilities=built.facts.compute_capabilities,
        runs_on=built.targets,
        build_seconds=built.build_seconds, warnings=warnings)
