"""Target options shared by run and bisect: what the reference is compared against."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click
import onnx

from trtdiff.errors import UsageError
from trtdiff.inputs import Feeds
from trtdiff.model import load_model
from trtdiff.pipeline import TargetSpec
from trtdiff.runners.base import Runner
from trtdiff.runners.onnxrt import OnnxRuntimeRunner

F = TypeVar("F", bound=Callable[..., Any])


def target_options(func: F) -> F:
    options = [
        click.option("--fp16", "precision", flag_value="fp16", help="Target: the model converted to FP16."),
        click.option("--bf16", "precision", flag_value="bf16", help="Target: the model converted to BF16."),
        click.option("--target-model", type=click.Path(dir_okay=False), default=None,
                     help="Target: another ONNX model (e.g. converted elsewhere); compared over shared tensor names."),
        click.option("--target-providers", default="cpu", show_default=True,
                     help="ONNX Runtime providers for the target, comma-separated."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def target_from_options(options: dict[str, Any]) -> TargetSpec:
    """Build the TargetSpec and remove the options it used from `options`."""
    precision = options.pop("precision", None)
    target_model = options.pop("target_model", None)
    providers = tuple(p.strip() for p in options.pop("target_providers", "cpu").split(",") if p.strip())
    runner_factory = _onnxrt_factory(providers)
    if target_model and precision:
        raise UsageError("--target-model and --fp16/--bf16 both given", "the target is one or the other",
                         "drop one of them")
    if target_model:
        other = load_model(target_model)
        return TargetSpec(f"{target_model} on onnxruntime {list(providers)}", lambda _m, _f: other, runner_factory)
    if not precision:
        raise UsageError("no target given", "trtdiff compares the FP32 reference with a target",
                         "add --fp16, --bf16, or --target-model OTHER.onnx")
    return TargetSpec(f"onnxruntime {precision} (converted) {list(providers)}",
                      _converter(precision), runner_factory, plan={"default": precision})


def _onnxrt_factory(providers: tuple[str, ...]) -> Callable[[onnx.ModelProto], Runner]:
    def make(model: onnx.ModelProto) -> Runner:
        return OnnxRuntimeRunner(model, providers, optimize=False, name="target")

    return make


def _converter(precision: str) -> Callable[[onnx.ModelProto, Feeds], onnx.ModelProto]:
    def build(model: onnx.ModelProto, feeds: Feeds) -> onnx.ModelProto:
        from trtdiff.precision.apply import apply_plan
        from trtdiff.precision.plan import PrecisionPlan

        return apply_plan(model, PrecisionPlan(default=precision), [feeds]).model

    return build
