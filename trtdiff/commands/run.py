"""`trtdiff run`: compare every tensor of a target against the FP32 reference."""

from __future__ import annotations

import shlex
import sys
from typing import Any

import click
from rich.console import Console

from trtdiff.commands.attribution_options import attribution_from, attribution_options
from trtdiff.api import compare
from trtdiff.commands.options import data_options, input_options, pop_input_settings, pop_tolerances, \
    tolerance_options
from trtdiff.commands.paths import CheckedCommand, InputPath, OutputPath
from trtdiff.commands.targets import providers_from, reference_from_options, target_from_options, target_options
from trtdiff.errors import ExitCode
from trtdiff.fileio import is_stdout, write_text_atomic
from trtdiff.result import comparison_to_json
from trtdiff.terminal import print_comparison


@click.command("run", cls=CheckedCommand)
@click.argument("model", type=InputPath(dir_okay=False))
@target_options
@click.option("--mark-all", is_flag=True, help="Compare every intermediate tensor of the main graph.")
@click.option("--outputs", "outputs", multiple=True, metavar="TENSOR",
              help="Compare these tensors (besides the graph outputs). Repeatable.")
@click.option("--mark-shape-tensors", is_flag=True,
              help="Also compare integer shape-plumbing tensors (skipped by --mark-all by default).")
@input_options
@data_options
@tolerance_options
@click.option("--reference", "reference_backend", type=click.Choice(["onnxrt", "trt"]), default="onnxrt",
              show_default=True, help="What runs the FP32 reference: ONNX Runtime, or TensorRT (FP32, TF32 off).")
@click.option("--providers", default="cpu", show_default=True,
              help="ONNX Runtime providers for the reference, comma-separated (cpu, cuda, ...).")
@click.option("--fail-on", type=click.Choice(["outputs", "all"]), default="outputs", show_default=True,
              help="What decides the verdict: the graph outputs (and --outputs), or every compared tensor.")
@click.option("--save-inputs", type=OutputPath(), default=None, help="Write the inputs used to .npz.")
@click.option("--save-outputs", type=OutputPath(), default=None,
              help="Write reference and target graph outputs (and --outputs) to .npz.")
@click.option("--json", "json_path", type=OutputPath(), default=None, help="Write the result as JSON.")
@click.option("--report", "report_path", type=OutputPath(), default=None,
              help="Write a self-contained HTML report.")
@attribution_options
@click.option("--table", "table_mode", type=click.Choice(["auto", "all", "failing"]), default="auto",
              show_default=True, help="Which tensors the terminal table lists.")
def run_command(model: str, mark_all: bool, outputs: tuple[str, ...], mark_shape_tensors: bool,
                reference_backend: str, providers: str, fail_on: str, save_inputs: str | None, save_outputs: str | None,
                json_path: str | None, report_path: str | None, table_mode: str, **options: Any) -> None:
    """Run MODEL in FP32 (reference) and in the target precision, and compare every tensor.

    Exit code: 0 pass, 1 accuracy mismatch, 2 usage error, 3 model or tool error."""
    reference_runner, reference_description = reference_from_options(reference_backend, options)
    attribution, memory_budget = attribution_from(options, mark_all)
    comparison = compare(
        model,
        target_from_options(options),
        inputs=pop_input_settings(options),
        mark_all=mark_all,
        outputs=outputs,
        tolerances=pop_tolerances(options),
        attribute={"on": True, "off": False}.get(attribution),
        attribute_sample=options.pop("attribute_sample"),
        load_outputs=options.pop("load_outputs"),
        calibration_data=options.pop("calibration_data"),
        progress=not options.pop("no_progress"),
        include_shape_tensors=mark_shape_tensors,
        reference_providers=providers_from(providers),
        reference_runner=reference_runner,
        reference_description=reference_description,
        fail_on=fail_on,
        command=shlex.join(["trtdiff", *sys.argv[1:]]),
        save_inputs=save_inputs,
        save_outputs=save_outputs,
        memory_budget=memory_budget,
    )
    # the table goes to stderr when stdout carries a file ('-')
    console = Console(stderr=any(map(is_stdout, (json_path, report_path, save_inputs, save_outputs))))
    if not console.is_terminal:
        console.width = 160  # logs and CI: do not fold the table to 80 columns
    print_comparison(comparison, console, table_mode)
    if json_path:
        write_text_atomic(json_path, comparison_to_json(comparison))
    if report_path:
        from trtdiff.report.html import write_report

        write_report(comparison, report_path)
    click.get_current_context().exit(int(ExitCode.PASSED if comparison.passed else ExitCode.MISMATCH))


