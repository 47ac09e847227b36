"""Target options shared by run and bisect: what the FP32 reference is compared against.

A target is either a precision plan applied to the model (--fp16, --emulate int8, --precision-plan
...) or a user's own model (--target-model), run on ONNX Runtime with --target-providers.

ONNX Runtime's CPU provider computes FP16 nodes in FP32 and removes Cast pairs even with graph
optimisations off, so a natively converted FP16 model on CPU hides range effects (a value past
65504 comes back finite). On a CPU-only ONNX Runtime target, --fp16/--bf16 therefore run emulated
(FP32 compute, every tensor rounded), and the result says so; --native forces the converted model.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

import click
import onnx

from trtdiff.options.plan_target import plan_builder
from trtdiff.options.paths import InputPath
from trtdiff.options.precision import precision_options, plan_from_options
from trtdiff.options.given import refuse_given
from trtdiff.options.trt import TRT_OPTION_NAMES, trt_options, trt_target_from_options
from trtdiff.errors import UsageError
from trtdiff.model import load_model
from trtdiff.next_step import target_words
from trtdiff.request import BuiltTarget, RunnerFactory, TargetSpec
from trtdiff.runners.base import Runner
from trtdiff.runners.onnxrt import GRAPH_OPTIMIZATIONS, OnnxRuntimeRunner, resolve_providers

F = TypeVar("F", bound=Callable[..., Any])
CPU_UPCAST_NOTE = ("ONNX Runtime's CPU provider computes {p} nodes in FP32 and drops Cast pairs, so the "
                   "converted model would hide overflow and rounding; the target runs emulated instead "
                   "(FP32 compute, every tensor rounded to {p}). Pass --native to run the converted model.")


def target_options(func: F) -> F:
    options = [
        click.option("--target", "target_backend", type=click.Choice(["onnxrt", "trt"]), default="onnxrt",
                     show_default=True, help="What runs the target: ONNX Runtime, or TensorRT 10/11 on a GPU."),
        click.option("--target-model", type=InputPath(dir_okay=False), default=None,
                     help="Target: another ONNX model (e.g. converted elsewhere); compared over shared tensor names."),
        click.option("--target-providers", default="cpu", show_default=True,
                     help="ONNX Runtime providers for the target, comma-separated (cpu, cuda, ...)."),
        click.option("--target-graph-optimization", "target_graph_optimization",
                     type=click.Choice(GRAPH_OPTIMIZATIONS), default="all", show_default=True,
                     help="ONNX Runtime graph optimisations for the target, as deployed (the FP32 reference "
                          "always runs with them disabled). Compared tensors are outputs, so keep their names."),
        click.option("--native", is_flag=True,
                     help="Run the converted FP16/BF16 model even on ONNX Runtime's CPU provider."),
    ]
    func = trt_options(func)
    func = precision_options(func)
    for option in reversed(options):
        func = option(func)
    return func


def target_from_options(options: dict[str, Any]) -> TargetSpec:
    """Build the TargetSpec from the command's keyword arguments (with the words that ask for it
    again, for the next-step commands); options that do not apply to the chosen target (TensorRT's
    on ONNX Runtime, ONNX Runtime's on TensorRT) are refused."""
    _refuse_other_backends_options(options.get("target_backend", "onnxrt"))
    words = target_words(options)
    if options.get("target_backend") == "trt":
        return dataclasses.replace(trt_target_from_options(options), cli_words=words)
    return dataclasses.replace(_onnxrt_target(options), cli_words=words)


def _onnxrt_target(options: dict[str, Any]) -> TargetSpec:
    plan = plan_from_options(**options)
    if plan is None or not plan.hidden_by_onnxruntime_cpu:
        refuse_given(("native",), "it runs a converted FP16/BF16 model natively on ONNX Runtime's CPU provider, "
                     "and this target is no such model", "drop --native")
    target_model = options.get("target_model")
    providers = providers_from(options.get("target_providers", "cpu"))
    runner_factory = _onnxrt_factory(providers, options.get("target_graph_optimization", "all"))
    if target_model and plan is not None:
        raise UsageError("--target-model was given with a precision option",
                         "the target is either a converted model or your own model",
                         "drop --target-model, or drop --fp16/--bf16/--int8/--fp8/--emulate/--precision-plan")
    if target_model:
        other = load_model(target_model)
        return TargetSpec(f"{target_model} on onnxruntime {list(providers)}",
                          lambda _m, _f: BuiltTarget(other, ()), runner_factory, own_tensors=True,
                          segmentable=True)
    if plan is None:
        raise UsageError("no target given", "trtdiff compares the FP32 reference with a target",
                         "add --fp16, --bf16, --int8, --fp8, --emulate TYPE, --precision-plan FILE or "
                         "--target-model OTHER.onnx")
    notes: tuple[str, ...] = ()
    if providers == ("CPUExecutionProvider",) and plan.hidden_by_onnxruntime_cpu and not options.get("native"):
        notes = (CPU_UPCAST_NOTE.format(p=plan.default.upper()),)
        plan = plan.for_onnxruntime_cpu()
    return TargetSpec(f"{plan.describe()} on onnxruntime {list(providers)}", plan_builder(plan),
                      runner_factory, plan=plan.to_dict(), notes=notes, segmentable=True)


def _refuse_other_backends_options(target_backend: str) -> None:
    ctx = click.get_current_context(silent=True)
    reference = ctx.params.get("reference_backend", "onnxrt") if ctx is not None else "onnxrt"
    if "trt" not in (target_backend, reference):
        refuse_given(TRT_OPTION_NAMES, "TensorRT options need a TensorRT target or reference; this run uses "
                     "ONNX Runtime for both", "Add --target trt (or --reference trt), or drop the option")
    if target_backend == "trt":
        refuse_given(("target_providers", "target_graph_optimization"), "ONNX Runtime target options do "
                     "nothing when --target trt runs TensorRT", "Drop the option, or drop --target trt")
    if reference == "trt":
        refuse_given(("providers",), "it chooses ONNX Runtime providers for the reference, and --reference trt "
                     "runs TensorRT", "Drop --providers, or drop --reference trt")


def providers_from(text: str) -> tuple[str, ...]:
    """ONNX Runtime providers from a comma-separated option (cpu, cuda, ...), checked available."""
    return tuple(resolve_providers([p.strip() for p in text.split(",") if p.strip()]))


def _onnxrt_factory(providers: tuple[str, ...], optimization: str) -> Callable[[onnx.ModelProto], Runner]:
    def make(model: onnx.ModelProto) -> Runner:
        return OnnxRuntimeRunner(model, providers, optimize=optimization, name="target")

    return make


def reference_from_options(backend: str, options: dict[str, Any]) -> tuple[RunnerFactory | None, str]:
    """The reference runner for `--reference`: None means ONNX Runtime FP32 (the default)."""
    if backend != "trt":
        return None, ""
    from trtdiff.options.trt import tensorrt_runner_factory, trt_options_from_cli

    factory = tensorrt_runner_factory(trt_options_from_cli(**options), name="reference")
    return factory, "TensorRT fp32 (strongly typed, TF32 off)"
