"""The command to try next, computed once and stored on the result, so that the terminal and the
report only place it (`Comparison.next_steps`, `PrecisionBisect.next_steps`).

After a failing run of a precision plan: `trtdiff bisect MODEL ...` with the same target, input
and tolerance options finds the smallest FP32 set that passes; when attribution ranked a top
offender, `trtdiff run MODEL ... --keep-fp32 NODE` keeps it in FP32 and compares again. After a
passing bisect: `trtdiff run MODEL ...` with the plan it found (`--precision-plan DIR/plan.json`
when it was written, else its `--keep-fp32` nodes) applies it and checks it passes.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from trtdiff.formatting import fmt_exact
from trtdiff.measure.tolerance import DEFAULT_ATOL, DEFAULT_REL_FLOOR, DEFAULT_RTOL, ToleranceSpec
from trtdiff.inputs import DEFAULT_RANGE, InputSettings
from trtdiff.request import RunRequest
from trtdiff.result import Comparison, NextStep

PRECISION_FLAGS = ("fp16", "bf16", "int8", "fp8")
# target options other than the precision ones, with the default a command line may leave out
TARGET_DEFAULTS = {"target_backend": ("--target", "onnxrt"), "target_model": ("--target-model", None),
                   "target_providers": ("--target-providers", "cpu"),
                   "target_graph_optimization": ("--target-graph-optimization", "all")}


@dataclass(frozen=True)
class TargetWords:
    """A target's command-line options, split so that a plan can replace the precision part."""

    precision: tuple[str, ...] = ()  # --fp16 / --emulate X / --precision-plan P / --keep-fp32 N ...
    other: tuple[str, ...] = ()  # --target-providers, --native, --target trt and its --trt-* options

    @property
    def all(self) -> tuple[str, ...]:
        return self.precision + self.other


def target_words(options: Mapping[str, Any]) -> TargetWords:
    """The words that ask for this target again, from a command's options as click passes them."""
    precision = [f"--{flag}" for flag in PRECISION_FLAGS if options.get(flag)]
    for key, flag in (("emulate", "--emulate"), ("precision_plan", "--precision-plan"),
                      ("calibration", "--calibration"), ("out_of_range", "--out-of-range")):
        if options.get(key) is not None:
            precision += [flag, str(options[key])]
    for key, flag in (("keep_fp32", "--keep-fp32"), ("keep_fp32_op", "--keep-fp32-op")):
        for value in options.get(key) or ():
            precision += [flag, str(value)]
    other: list[str] = []
    for key, (flag, default) in TARGET_DEFAULTS.items():
        if options.get(key) not in (None, default):
            other += [flag, str(options[key])]
    other += ["--native"] if options.get("native") else []
    for key in sorted(k for k in options if k.startswith("trt_")):
        other += _option_words(f"--{key.replace('_', '-')}", options[key])
    return TargetWords(tuple(precision), tuple(other))


def _option_words(flag: str, value: Any) -> list[str]:
    if value is True:
        return [flag]
    if value in (None, False, (), [], ""):
        return []
    if isinstance(value, (tuple, list)):
        return [word for item in value for word in (flag, str(item))]
    return [flag, str(value)]


def input_words(settings: InputSettings) -> list[str]:
    """The input options that give the same samples again."""
    words: list[str] = []
    for name, shape in settings.shapes.items():
        words += ["--input-shapes", f"{name}:[{','.join(str(d) for d in shape)}]"]
    for name, (low, high) in settings.ranges.items():
        if name or (low, high) != DEFAULT_RANGE:
            bounds = f"[{fmt_exact(low)},{fmt_exact(high)}]"
            words += ["--val-range", f"{name}:{bounds}" if name else bounds]
    if settings.load_path:
        words += ["--load-inputs", str(settings.load_path)] + (["--batched-npz"] if settings.batched_npz else [])
    elif settings.loader_script:
        words += ["--data-loader-script", str(settings.loader_script)]
    else:
        words += ["--seed", str(settings.seed)] if settings.seed != 1 else []
        words += ["--iterations", str(settings.iterations)] if settings.iterations != 1 else []
    words += ["--max-samples", str(settings.max_samples)] if settings.max_samples is not None else []
    return words


def tolerance_words(spec: ToleranceSpec) -> list[str]:
    """The tolerance and check options that judge the same way again."""
    words: list[str] = []
    for flag, default, value, per_tensor in (("--atol", DEFAULT_ATOL, spec.atol, spec.per_tensor_atol),
                                             ("--rtol", DEFAULT_RTOL, spec.rtol, spec.per_tensor_rtol)):
        words += [flag, fmt_exact(value)] if value != default else []
        for name, tensor_value in per_tensor.items():
            words += [flag, f"{name}:{fmt_exact(tensor_value)}"]
    checks = [str(c) for c in spec.checks] or [spec.check]
    if checks != ["elementwise"]:
        words += [word for check in checks for word in ("--check", check)]
    words += ["--rel-floor", fmt_exact(spec.rel_floor)] if spec.rel_floor != DEFAULT_REL_FLOOR else []
    words += ["--min-agreement", fmt_exact(spec.min_agreement)] if spec.min_agreement != 1.0 else []
    words += ["--topk-axis", str(spec.topk_axis)] if spec.topk_axis != -1 else []
    return words


def data_words(load_outputs: str | None, calibration_data: str | None) -> list[str]:
    """--load-outputs and --calibration-data, as given."""
    return (["--load-outputs", load_outputs] if load_outputs else []) + (
        ["--calibration-data", calibration_data] if calibration_data else [])


def after_run(comparison: Comparison, request: RunRequest) -> tuple[NextStep, ...]:
    """What to run after a failing comparison (nothing after a passing one)."""
    if comparison.passed:
        return ()
    model_path, target, mark_all = request.model_path, request.target.cli_words, request.selection.mark_all
    common = [*input_words(request.inputs), *data_words(request.load_outputs, request.calibration_data),
              *tolerance_words(request.tolerances)]
    steps = []
    if comparison.nonfinite_reference:
        steps.append(NextStep(_join("run", model_path, *(target.all if target else ()), *common,
                                    "--allow-nonfinite-reference"),
                              "accept the NaN/Inf in the FP32 reference (check the model and inputs first)"))
    plan = comparison.settings.precision_plan
    if target is None or plan is None:
        if not mark_all:
            steps.append(NextStep(_join("run", model_path, *(target.all if target else ()), *common, "--mark-all"),
                                  "compare every tensor, to see where the error starts and which node introduces it"))
        return tuple(steps)
    steps.append(NextStep(_join("bisect", model_path, *target.all, *common),
                          "find the smallest set of nodes to keep in FP32 so that the outputs pass"))
    top = _top_offender(comparison, plan)
    if top:
        steps.append(NextStep(_join("run", model_path, *target.all, "--keep-fp32", top, *common, "--mark-all"),
                              f"keep the top offender '{top}' in FP32 and compare again"))
    elif not mark_all:
        steps.append(NextStep(_join("run", model_path, *target.all, *common, "--mark-all"),
                              "compare every tensor, to rank the nodes that introduce the error"))
    return tuple(steps)


def after_bisect(model_path: str, search_nodes: Sequence[str], passed: bool, target: TargetWords,
                 inputs: InputSettings, tolerances: ToleranceSpec, data: Sequence[str],
                 plan_file: str | None) -> tuple[NextStep, ...]:
    """The command that applies the plan a bisect found (nothing when none passed)."""
    if not passed:
        return ()
    emulate = _emulate_words(target.precision)
    if plan_file is not None:
        precision = ["--precision-plan", plan_file, *emulate]
        why = f"apply the plan in {plan_file} (every node it keeps in FP32) and check that the outputs pass"
    else:
        precision = [*target.precision, *(w for n in search_nodes for w in ("--keep-fp32", n))]
        why = "apply the FP32 set bisect found and check that the outputs pass"
    return (NextStep(_join("run", model_path, *precision, *target.other, *input_words(inputs), *data,
                           *tolerance_words(tolerances)), why),)


def _emulate_words(precision: Sequence[str]) -> list[str]:
    """`--emulate X` when the target asked for emulation (a plan file says what to deploy: native)."""
    words = list(precision)
    return words[words.index("--emulate"):words.index("--emulate") + 2] if "--emulate" in words else []


def _top_offender(comparison: Comparison, plan: Mapping[str, Any]) -> str:
    """The top-ranked offender that introduces error and that the plan does not keep already."""
    kept = set(plan.get("keep_fp32_nodes") or ())
    ops = set(plan.get("keep_fp32_ops") or ())
    return next((o.node for o in comparison.offenders if o.score > 0 and o.node not in kept
                 and o.op_type not in ops), "")


def _join(command: str, *words: str) -> str:
    return shlex.join(["trtdiff", command, *words])
