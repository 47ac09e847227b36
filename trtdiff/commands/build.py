"""`trtdiff build MODEL [precision/TensorRT options] -o ENGINE`: the TensorRT engine of a precision
plan, built and saved with its sidecar, never run (works on a CPU with TensorRT-RTX)."""

from __future__ import annotations

from typing import Any

import click

from trtdiff.options.paths import CheckedCommand, InputPath, OutputPath
from trtdiff.options.data import input_options, pop_input_settings
from trtdiff.options.precision import plan_from_options, precision_options
from trtdiff.options.trt import trt_options, trt_options_from_cli
from trtdiff.engine_build import build_engine_for_plan
from trtdiff.errors import UsageError
from trtdiff.fileio import is_stdout
from trtdiff.trt.features import RTX_DEFAULT_DESCRIPTION


# click takes the help from here: a docstring built with + is not a docstring
BUILD_HELP = """Build the TensorRT engine of MODEL in the target precision and save it, without running it.

    The precision options make the same target as `run --target trt` (FP16/BF16 conversion,
    INT8/FP8 Q/DQ calibrated on the inputs). TensorRT-RTX builds on any machine, GPU or not, for
    --trt-compute-capability (default: """ + RTX_DEFAULT_DESCRIPTION + """). Compare the engine
    later, where it can run: trtdiff run MODEL --target trt --load-engine ENGINE (same precision
    options)."""


@click.command("build", cls=CheckedCommand, help=BUILD_HELP)
@click.argument("model", type=InputPath(dir_okay=False))
@click.option("-o", "--output", required=True, type=OutputPath(),
              help="Where the engine goes (its .trtdiff.json sidecar is written beside it).")
@precision_options
@trt_options
@input_options
@click.option("--calibration-data", type=InputPath(), default=None, metavar="PATH",
              help="Samples that calibrate INT8/FP8 scales (as in `run`); default: the input options' samples.")
def build_command(model: str, output: str, calibration_data: str | None, **options: Any) -> None:
    """`trtdiff build` (BUILD_HELP)."""
    if is_stdout(output):
        raise UsageError("-o - is not a file", "an engine is saved with its .trtdiff.json sidecar beside it",
                         "Name a file, e.g. -o model.engine")
    for name in ("load_engine", "save_engine"):
        if options.get(name):
            raise UsageError(f"--{name.replace('_', '-')} does not apply to `trtdiff build`",
                             "build always builds from MODEL and saves to -o",
                             f"drop --{name.replace('_', '-')}")
    trt = trt_options_from_cli(**options)
    plan = plan_from_options(**options)
    inputs = pop_input_settings(options)
    built = build_engine_for_plan(model, plan, trt, output, inputs, calibration_data)
    click.echo(f"built {built.precision} with {built.builder} in {built.build_seconds:.2f} s "
               f"(intermediate tensors: {built.mode}); it runs on {built.runs_on}")
    for warning in built.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"engine:  {built.engine}")
    click.echo(f"sidecar: {built.sidecar}")
