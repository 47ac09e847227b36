"""`trtdiff check MODEL --baseline DIR`: the pre-release regression gate."""

from __future__ import annotations

import shlex
import sys
from typing import Any

import click
from rich.console import Console
from rich.text import Text

from trtdiff.baseline.check import AGAINST, CheckResult, check
from trtdiff.baseline.terminal import print_diff
from trtdiff.baseline.wording import environment_facts
from trtdiff.commands.display import display_options, show_comparison
from trtdiff.options.gate import gate_options, policy_from, table_console, write_gate_files
from trtdiff.options.paths import CheckedCommand, InputPath, OutputPath
from trtdiff.options.run import comparison_option_names, comparison_options
from trtdiff.options.verbosity import is_quiet
from trtdiff.errors import ExitCode
from trtdiff.result import comparison_to_json


@click.command("check", cls=CheckedCommand)
@click.argument("model", type=InputPath(dir_okay=False))
@click.option("--baseline", "baseline_dir", required=True, type=InputPath(),
              help="The baseline directory written by `trtdiff baseline save`.")
@comparison_options
@gate_options
@click.option("--against", default="reference", show_default=True, metavar="|".join(AGAINST),
              help="golden: also compare the candidate's target outputs with the baseline's golden outputs.")
@click.option("--allow-different-data", is_flag=True, help="Run even when the data set differs from the baseline's.")
@click.option("--allow-model-change", is_flag=True,
              help="Accept a baseline of another model (a re-export): tensors are matched by name.")
@click.option("--report", "report_path", type=OutputPath(), default=None,
              help="Write the HTML report (with the baseline and candidate error curves).")
@display_options
def check_command(model: str, baseline_dir: str, against: str, allow_different_data: bool, allow_model_change: bool,
                  report_path: str | None, table_mode: str, wide: bool, divergence_snr: float, **options: Any) -> None:
    """Rerun the baseline's comparison on MODEL and judge it against the baseline: each graph output
    must pass its tolerances and be at most --max-regression worse than the baseline's; the first
    tensor whose error grew beyond the margin is where the new error starts. Settings (target,
    data, tolerances) come from the baseline unless given again.

    Exit code: 0 the gate holds, 1 it does not, 2 usage error, 3 model or tool error."""
    policy = policy_from(options)
    given = _given(options)
    result = check(model, baseline_dir, max_regression=policy.max_regression, regression_floor=policy.floor,
                   gate_metric=policy.metric, output_metrics=policy.output_metrics, fail_on=policy.fail_on,
                   against=against, allow_different_data=allow_different_data, allow_model_change=allow_model_change,
                   command=shlex.join(["trtdiff", *sys.argv[1:]]), divergence_snr_db=divergence_snr, **given)
    console = table_console({**options, "report_path": report_path})  # stderr when a file goes to stdout
    show_comparison(result.candidate, table_mode, wide, stdout_taken=console.stderr)
    _show_gate(result, console)
    facts = {"baseline": baseline_dir, "model": model,
             **environment_facts(result.baseline.environment, result.candidate.environment)}
    write_gate_files(result.diff, options, facts, json_text=comparison_to_json(result.candidate),
                     seconds=result.candidate.timings.get("total_s", 0.0),
                     golden=(result.candidate.gate or {}).get("golden"))
    if report_path:
        from trtdiff.report.html import write_report

        write_report(result.candidate, report_path)
    click.get_current_context().exit(int(ExitCode.PASSED if result.passed else ExitCode.MISMATCH))


def _given(options: dict[str, Any]) -> dict[str, Any]:
    """The comparison options given on the command line (the others come from the baseline)."""
    context = click.get_current_context()
    return {name: value for name, value in options.items() if name in comparison_option_names()
            and context.get_parameter_source(name) not in (click.core.ParameterSource.DEFAULT, None)}


def _show_gate(result: CheckResult, console: Console) -> None:
    if result.golden is not None:
        failing = [t.name for t in result.golden.tensors if t.name in result.golden.outputs and t.passed is not True]
        verdict = "all outputs match" if not failing else "FAIL " + ", ".join(failing)
        console.print(Text(f"against golden outputs: {verdict}"), soft_wrap=True)
    print_diff(result.diff, console, quiet=is_quiet())
