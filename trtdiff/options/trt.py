"""The TensorRT options shared by every command that can build or run TensorRT (`run`, `bisect`,
`build`, ...): `@trt_options` adds them to a click command, `trt_options_from_cli(**kwargs)` turns
the parsed values into a `TrtOptions`. Names follow trtexec/Polygraphy where users know them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import click
import onnx

from trtdiff.options.paths import InOutPath, InputPath, OutputPath

from trtdiff.errors import UsageError
from trtdiff.trt.marked import split_marked_outputs
from trtdiff.trt.features import RTX_DEFAULT_DESCRIPTION
from trtdiff.trt.options import (
    FLAVOR_CHOICES,
    HARDWARE_COMPATIBILITY,
    INTERMEDIATE_MODES,
    WEAK_TYPES,
    TrtOptions,
    parse_compute_capabilities,
    parse_layer_precisions,
    parse_pool_limits,
    parse_shapes,
)

F = TypeVar("F", bound=Callable[..., Any])

TRT_OPTION_NAMES = (
    "trt_flavor", "trt_compute_capability", "trt_mode", "trt_min_shapes", "trt_opt_shapes",
    "trt_max_shapes", "trt_pool_limit", "trt_tf32",
    "trt_opt_level", "trt_timing_cache", "trt_plugins", "trt_version_compatible",
    "trt_exclude_lean_runtime", "trt_hardware_compatibility", "load_engine", "save_engine",
    "trt_weak_typing", "trt_layer_precision",
)

_SHAPES_HELP = ("{} shapes of the optimization profile: NAME:[1,3,224,224] or trtexec's "
                "NAME:1x3x224x224; several per value (comma-separated) or repeat the option.")

_OPTIONS = [
    click.option("--trt-flavor", type=click.Choice(FLAVOR_CHOICES), default=None,
                 help="Which TensorRT: tensorrt (TensorRT 10.x/11.x, module tensorrt) or rtx "
                      "(TensorRT for RTX, module tensorrt_rtx; builds on any CPU, runs on RTX-class "
                      "GPUs). Default: tensorrt when it imports, else rtx."),
    click.option("--trt-compute-capability", multiple=True, metavar="CC",
                 help="TensorRT-RTX only: build for these GPU compute capabilities (8.6, SM89, ... or "
                      "current; repeat for several). Default: " + RTX_DEFAULT_DESCRIPTION +
                      ", which needs no GPU at build time; current builds for this machine's GPU."),
    click.option("--trt-mode", type=click.Choice(INTERMEDIATE_MODES), default=None,
                 help="How TensorRT exposes intermediate tensors: unfused (default on 10.12+: "
                      "fusion untouched), debug (mark_debug on the compared tensors; default "
                      "before 10.12) or outputs (mark as network outputs; perturbs fusion)."),
    click.option("--trt-min-shapes", multiple=True, help=_SHAPES_HELP.format("Minimum")),
    click.option("--trt-opt-shapes", multiple=True,
                 help=_SHAPES_HELP.format("Optimum") + " Alone it fixes the shape."),
    click.option("--trt-max-shapes", multiple=True, help=_SHAPES_HELP.format("Maximum")),
    click.option("--trt-pool-limit", multiple=True, metavar="POOL:SIZE",
                 help="Memory-pool limit, e.g. workspace:2G (bare number = MiB, as trtexec "
                      "--memPoolSize). Pools: workspace, tactic_shared_memory, tactic_dram, "
                      "dla_managed_sram, dla_local_dram, dla_global_dram."),
    click.option("--trt-tf32/--trt-no-tf32", default=False, show_default=True,
                 help="Allow TF32 for FP32 layers (off: FP32 layers compute in true FP32)."),
    click.option("--trt-opt-level", type=click.IntRange(0, 5), default=None,
                 help="Builder optimisation level 0-5 (TensorRT's default: 3)."),
    click.option("--trt-timing-cache", type=InOutPath(path_type=Path), default=None,
                 help="Timing cache file: read if present, written back after the build."),
    click.option("--trt-plugins", multiple=True, type=InputPath(dir_okay=False, path_type=Path),
                 help="Plugin library (.so) to load; repeat for several."),
    click.option("--trt-version-compatible", is_flag=True,
                 help="Build a version-compatible engine (runs on later TensorRT versions)."),
    click.option("--trt-exclude-lean-runtime", is_flag=True,
                 help="With --trt-version-compatible: leave the lean runtime out of the plan."),
    click.option("--trt-hardware-compatibility", type=click.Choice(HARDWARE_COMPATIBILITY),
                 default=None, help="Hardware compatibility level of the engine."),
    click.option("--load-engine", type=InputPath(dir_okay=False, path_type=Path), default=None,
                 help="Load this serialized TensorRT engine instead of building one."),
    click.option("--save-engine", type=OutputPath(path_type=Path), default=None,
                 help="Save the built engine here (with a .trtdiff.json sidecar)."),
    click.option("--trt-weak-typing", multiple=True, type=click.Choice(WEAK_TYPES),
                 help="TensorRT < 10.12 only: weakly typed build with these precision flags "
                      "(deprecated by NVIDIA; the precision plan is the way on 10.12+ and 11)."),
    click.option("--trt-layer-precision", multiple=True, metavar="LAYER:PRECISION",
                 help="TensorRT < 10.12 only, with --trt-weak-typing: per-layer precision "
                      "(trtexec --layerPrecisions form), e.g. Conv_3:fp32."),
]


def trt_options(command: F) -> F:
    """Add the TensorRT options (in the order above) to a click command."""
    for option in reversed(_OPTIONS):
        command = option(command)
    return command


def trt_options_from_cli(**kwargs: Any) -> TrtOptions:
    """A `TrtOptions` from the values click parsed; keys other than the TensorRT ones are
    ignored, so a command may pass all its kwargs. Raises UsageError on bad values."""
    def get(name: str, default: Any = None) -> Any:
        return kwargs.get(name, default)

    return TrtOptions(
        mode=get("trt_mode"),
        min_shapes=parse_shapes(get("trt_min_shapes", ()), "--trt-min-shapes"),
        opt_shapes=parse_shapes(get("trt_opt_shapes", ()), "--trt-opt-shapes"),
        max_shapes=parse_shapes(get("trt_max_shapes", ()), "--trt-max-shapes"),
        pool_limits=parse_pool_limits(get("trt_pool_limit", ())),
        tf32=bool(get("trt_tf32", False)),
        optimization_level=get("trt_opt_level"),
        timing_cache=get("trt_timing_cache"),
        plugins=tuple(Path(p) for p in get("trt_plugins", ())),
        version_compatible=bool(get("trt_version_compatible", False)),
        exclude_lean_runtime=bool(get("trt_exclude_lean_runtime", False)),
        hardware_compatibility=get("trt_hardware_compatibility"),
        load_engine=get("load_engine"),
        save_engine=get("save_engine"),
        weak_typing=tuple(dict.fromkeys(get("trt_weak_typing", ()))),
        layer_precisions=parse_layer_precisions(get("trt_layer_precision", ())),
        flavor=get("trt_flavor"),
        compute_capabilities=parse_compute_capabilities(get("trt_compute_capability", ())),
    )


def tensorrt_runner_factory(options: TrtOptions, name: str = "target",
                            feed_shapes: dict[str, tuple[int, ...]] | None = None,
                            ) -> Callable[[onnx.ModelProto], Any]:
    """A `pipeline.RunnerFactory` for TensorRT. The pipeline passes a model with the compared
    tensors appended as graph outputs; the factory takes them off again and asks the runner to
    expose them in the chosen mode instead (`trtdiff.trt.marked`). Where the user gave no
    profile shapes, the shapes of the run's own inputs (`feed_shapes`, filled when the target
    model is built) fix the profile, so `--input-shapes` alone is enough for a dynamic model."""
    def make(marked: onnx.ModelProto) -> Any:
        from trtdiff.runners.trt_runner import TensorRTRunner

        own, extra = split_marked_outputs(marked)
        chosen = options
        no_profile = not (options.min_shapes or options.opt_shapes or options.max_shapes)
        if feed_shapes and no_profile and options.load_engine is None:
            chosen = replace(options, opt_shapes=dict(feed_shapes))
        return TensorRTRunner(own, chosen, name=name, tensors=extra)

    return make


def trt_target_from_options(options: dict[str, Any]) -> Any:
    """The `pipeline.TargetSpec` for `--target trt`: the precision plan (if any) applied as an
    ONNX transform, always native (the precision lives in the model), then built by TensorRT;
    or, with --target-model, the user's own model built by TensorRT."""
    from trtdiff.options.precision import plan_from_options
    from trtdiff.options.plan_target import plan_builder
    from trtdiff.request import BuiltTarget, TargetSpec

    trt = trt_options_from_cli(**options)
    plan = plan_from_options(**options)
    target_model = options.get("target_model")
    if target_model and plan is not None:
        raise UsageError("--target-model was given with a precision option",
                         "the target is either a converted model or your own model",
                         "drop --target-model, or drop the precision options")
    notes: tuple[str, ...] = ()
    if trt.load_engine is not None:
        notes = (f"the target engine was loaded from {trt.load_engine}; the model and precision "
                 "options only name its ONNX tensors, they did not build it",)
    if target_model:
        from trtdiff.model import load_model

        other = load_model(target_model)
        description, build = f"{target_model} on TensorRT", (lambda _m, _f: BuiltTarget(other, ()))
    elif plan is None:
        description, build = "fp32 (model as given) on TensorRT", (lambda m, _f: BuiltTarget(m, ()))
    else:
        description, build = f"{plan.describe()} on TensorRT", plan_builder(plan)
    shapes: dict[str, tuple[int, ...]] = {}

    def build_and_record(model: onnx.ModelProto, feeds: Any) -> Any:
        # one sample's feeds, or the calibration samples (a data set): the profile takes the first's shapes
        first = feeds if isinstance(feeds, Mapping) else next(iter(feeds), {})
        shapes.clear()
        shapes.update({name: tuple(array.shape) for name, array in first.items()})
        return build(model, feeds)

    return TargetSpec(description, build_and_record, tensorrt_runner_factory(trt, feed_shapes=shapes),
                      plan=plan.to_dict() if plan is not None else None, notes=notes,
                      own_tensors=bool(target_model))
