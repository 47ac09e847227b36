"""The precision options shared by `run` and `bisect`, and the plan they ask for.

    @click.command()
    @precision_options
    def run_command(model, **kwargs):
        plan = plan_from_options(**kwargs)   # None: no precision change requested
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from trtdiff.options.paths import InputPath

from trtdiff.options.given import refuse_given
from trtdiff.errors import UsageError
from trtdiff.precision.plan import CALIBRATIONS, OUT_OF_RANGE, PrecisionPlan

F = TypeVar("F", bound=Callable[..., Any])
EMULATED = ("fp16", "bf16", "fp8", "int8")
NATIVE_FLAGS = ("fp16", "bf16", "int8", "fp8")


def precision_options(func: F) -> F:
    """Add --fp16/--bf16/--int8/--fp8, --emulate, --precision-plan, --keep-fp32, --keep-fp32-op,
    --calibration and --out-of-range to a click command."""
    options = [
        click.option("--fp16", is_flag=True, help="Target: the model converted to FP16 (native)."),
        click.option("--bf16", is_flag=True, help="Target: the model converted to BF16 (native)."),
        click.option("--int8", is_flag=True,
                     help="Target: INT8 Q/DQ model, scales calibrated on the inputs."),
        click.option("--fp8", is_flag=True,
                     help="Target: FP8 (E4M3) Q/DQ model, scales calibrated on the inputs."),
        click.option("--emulate", type=click.Choice(EMULATED), default=None,
                     help="Target: FP32 compute with tensors rounded to this type (runs on any CPU)."),
        click.option("--precision-plan", type=InputPath(dir_okay=False, path_type=Path), default=None,
                     help="A precision plan JSON (from `trtdiff plan export --format trtdiff` or bisect)."),
        click.option("--keep-fp32", "keep_fp32", multiple=True, metavar="NODE",
                     help="Keep this node in FP32 (repeatable)."),
        click.option("--keep-fp32-op", "keep_fp32_op", multiple=True, metavar="OP",
                     help="Keep every node of this op type in FP32, e.g. LayerNormalization (repeatable)."),
        click.option("--calibration", type=click.Choice(CALIBRATIONS), default=None,
                     help="INT8/FP8 scale calibration  [default: minmax]"),
        click.option("--out-of-range", "out_of_range", type=click.Choice(OUT_OF_RANGE), default=None,
                     help="Constants beyond the target's range (65504 for FP16): keep their node in "
                          "FP32, or clamp them  [default: keep]"),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def plan_from_options(**kwargs: Any) -> PrecisionPlan | None:
    """The plan the options ask for, or None when they ask for no precision change. Takes a
    command's keyword arguments as click passes them; names it does not know are ignored."""
    chosen = [flag for flag in NATIVE_FLAGS if kwargs.get(flag)]
    emulate = kwargs.get("emulate")
    if len(chosen) > 1:
        raise UsageError(f"--{' and --'.join(chosen)} were both given", "a run has one target precision",
                         "pass one of --fp16, --bf16, --int8, --fp8")
    if chosen and emulate and chosen[0] != emulate:
        raise UsageError(f"--{chosen[0]} and --emulate {emulate} disagree",
                         "--emulate names the target precision itself",
                         f"pass --emulate {emulate} alone, or --{chosen[0]} alone")
    path = kwargs.get("precision_plan")
    base = PrecisionPlan.load(path) if path else None
    changes: dict[str, Any] = {}
    if emulate:
        changes.update(default=emulate, mode="emulated")
    elif chosen:
        changes.update(default=chosen[0], mode="native")
    for key, option in (("calibration", "calibration"), ("out_of_range", "out_of_range")):
        if kwargs.get(option):
            changes[key] = kwargs[option]
    nodes = tuple(kwargs.get("keep_fp32") or ())
    ops = tuple(kwargs.get("keep_fp32_op") or ())
    lowest = changes.get("default", base.default if base else "fp32")
    if lowest not in ("int8", "fp8"):
        refuse_given(("calibration", "calibration_data"), "calibration sets INT8/FP8 scales, and this target "
                     "is not INT8 or FP8", "Drop the option, or use --int8/--fp8")
    if lowest == "int8":
        refuse_given(("out_of_range",), "INT8 has no fixed range (its scales are calibrated)", "Drop --out-of-range")
    if base is None and "default" not in changes:
        if nodes or ops:
            raise UsageError("--keep-fp32/--keep-fp32-op need a reduced precision",
                             "without one every node already runs in FP32",
                             "add --fp16, --bf16, --int8, --fp8, --emulate or --precision-plan")
        return None
    data = base.to_dict() if base else {}
    data.update(changes)
    data["keep_fp32_nodes"] = [*(base.keep_fp32_nodes if base else ()), *nodes]
    data["keep_fp32_ops"] = [*(base.keep_fp32_ops if base else ()), *ops]
    return PrecisionPlan.from_dict(data)
