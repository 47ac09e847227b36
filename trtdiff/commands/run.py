"""`trtdiff run`: compare every tensor of a target against the FP32 reference."""

from __future__ import annotations

import shlex
import sys
from typing import Any

import click

from trtdiff.commands.display import display_options, show_comparison
from trtdiff.options.paths import CheckedCommand, InputPath, OutputPath
from trtdiff.options.run import compare_from_options, comparison_options
from trtdiff.errors import ExitCode
from trtdiff.fileio import is_stdout, write_text_atomic
from trtdiff.result import comparison_to_json


@click.command("run", cls=CheckedCommand)
@click.argument("model", type=InputPath(dir_okay=False))
@comparison_options
@click.option("--fail-on", type=click.Choice(["outputs", "all"]), default="outputs", show_default=True,
              help="What decides the verdict: the graph outputs (and --outputs), or every compared tensor.")
@click.option("--save-inputs", type=OutputPath(), default=None, help="Write the inputs used to .npz.")
@click.option("--save-outputs", type=OutputPath(), default=None,
              help="Write reference and target graph outputs (and --outputs) to .npz.")
@click.option("--json", "json_path", type=OutputPath(), default=None, help="Write the result as JSON.")
@click.option("--report", "report_path", type=OutputPath(), default=None,
              help="Write a self-contained HTML report.")
@display_options
def run_command(model: str, fail_on: str, save_inputs: str | None, save_outputs: str | None,
                json_path: str | None, report_path: str | None, table_mode: str, wide: bool, divergence_snr: float,
                **options: Any) -> None:
    """Run MODEL in FP32 (reference) and in the target precision, and compare every tensor.

    Exit code: 0 pass, 1 accuracy mismatch, 2 usage error, 3 model or tool error."""
    comparison = compare_from_options(model, options, fail_on=fail_on, command=shlex.join(["trtdiff", *sys.argv[1:]]),
                                      save_inputs=save_inputs, save_outputs=save_outputs,
                                      divergence_snr_db=divergence_snr)
    # the table goes to stderr when stdout carries one of the files ('-')
    show_comparison(comparison, table_mode, wide, any(map(is_stdout, (json_path, report_path, save_inputs, save_outputs))))
    if json_path:
        write_text_atomic(json_path, comparison_to_json(comparison))
    if report_path:
        from trtdiff.report.html import write_report

        write_report(comparison, report_path)
    click.get_current_context().exit(int(ExitCode.PASSED if comparison.passed else ExitCode.MISMATCH))
