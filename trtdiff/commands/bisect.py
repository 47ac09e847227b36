"""`trtdiff bisect MODEL ...` (smallest FP32 set) and `trtdiff bisect reduce MODEL ...` (smallest
failing subgraph): parse options, call `trtdiff.bisect`, print, write files."""

from __future__ import annotations

import json
import logging
import shlex
import sys
from pathlib import Path
from typing import Any

import click

from trtdiff.bisect.precision import SearchInterrupted, bisect_precision
from trtdiff.bisect.reduce import FAIL_ON, ReduceResult, calibration_inputs, reduce_failure, save_reduced
from trtdiff.commands import bisect_setup as session
from trtdiff.options.data import bisect_data_options, input_options
from trtdiff.options.tolerances import tolerance_options
from trtdiff.options.paths import CheckedCommand, InOutPath, InputPath, OutputFolder, OutputPath
from trtdiff.options.targets import target_options
from trtdiff.options.verbosity import is_quiet
from trtdiff.runners.onnxrt import OnnxRuntimeRunner
from trtdiff.errors import ExitCode
from trtdiff.fileio import is_stdout, write_text_atomic

log = logging.getLogger(__name__)


class _DefaultToPrecision(click.Group):
    """A group whose first word may be a model path: `bisect MODEL` means `bisect precision MODEL`."""

    command_class = CheckedCommand

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["precision", *args]
        return super().parse_args(ctx, args)


@click.group("bisect", cls=_DefaultToPrecision)
def bisect_group() -> None:
    """Find the smallest set of nodes to keep in FP32 (`trtdiff bisect MODEL --fp16 ...`), or the
    smallest subgraph that still fails (`trtdiff bisect reduce MODEL --fp16 ...`)."""


def _common(func: Any) -> Any:
    for option in reversed([
        click.argument("model", type=InputPath(dir_okay=False)),
        target_options, input_options, bisect_data_options, tolerance_options,
        click.option("--json", "json_path", type=OutputPath(), default=None,
                     help="Write the result as JSON ('-' for stdout)."),
        click.option("-o", "--output-dir", type=OutputFolder(), default=None,
                     help="Where to write models and files."),
    ]):
        func = option(func)
    return func


@bisect_group.command("precision")
@_common
@click.option("--by-op-type", is_flag=True, help="Search op types first, then nodes of the kept types.")
@click.option("--max-evals", type=click.IntRange(min=1), default=None,
              help="Stop after this many evaluations and return the best passing set found.")
@click.option("--state", "state_path", type=InOutPath(), default=None,
              help="Keep every evaluation in this file and resume from it (same model and options).")
@click.option("--ranking", "ranking_path", type=InputPath(exists=True, dir_okay=False), default=None,
              help="Node names, one per line, worst first (default: attribution's local-error ranking).")
@click.option("--report", "report_path", type=OutputPath(), default=None,
              help="Write an HTML report: the original target's comparison with these results.")
@click.option("--emulated-model", is_flag=True,
              help="With -o, also write the emulated model (FP32 compute, Cast pairs): for checking, not deployment.")
@click.option("--allow-nonfinite-reference", is_flag=True,
              help="Search although an FP32 reference output holds NaN/Inf (NaN then agrees with NaN).")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def precision_command(**options: Any) -> None:
    """Find a 1-minimal set of nodes to keep in FP32 so that the outputs pass the tolerances.

    Each evaluation applies the precision plan with a candidate FP32 set, runs the target and
    compares its outputs with ONNX Runtime FP32. Ctrl-C saves the search state; rerun with
    --state FILE to resume without repeating evaluations."""
    mine = {k: options.pop(k) for k in ("by_op_type", "max_evals", "state_path", "ranking_path", "no_progress",
                                        "json_path", "output_dir", "report_path", "emulated_model",
                                        "allow_nonfinite_reference")}
    stdout_taken = is_stdout(mine["json_path"]) or is_stdout(mine["report_path"])  # then it carries only that
    show = not mine["no_progress"] and not stdout_taken
    setup = session.prepare(options.pop("model"), dict(options, no_progress=not show))
    session.check_reference(setup, mine["allow_nonfinite_reference"])
    interrupt_path = Path(f"{Path(setup.model_path).stem}.bisect-state.json")
    try:
        with session.progress_bar(show) as hook:
            found = bisect_precision(
                setup.model, setup.plan, setup.feeds, setup.reference, setup.tolerances,
                infer=setup.infer, apply=setup.data.apply,
                ranking=session.read_ranking(mine["ranking_path"], setup.model),
                by_op_type=mine["by_op_type"], max_evals=mine["max_evals"], state_path=mine["state_path"],
                interrupt_path=interrupt_path, progress=hook, target=setup.target, judge=setup.data.judge,
                data_digest=setup.data.digest)
    except SearchInterrupted as stop:
        click.echo(f"trtdiff: interrupted after {stop.evaluations} evaluations; state saved to {stop.path}.\n"
                   f"Resume with: {_resume_command(stop.path)}", err=True)
        raise
    finally:
        setup.close()
    files = session.write_outputs(found, setup, mine["output_dir"], mine["emulated_model"])
    found = session.with_next_step(found, setup, files)
    data = {"model": setup.model_path, "target": setup.target, **found.to_dict(),
            "files": {k: str(v) for k, v in files.items()}, "warnings": setup.data.warnings}
    for warning in setup.data.warnings:
        click.echo(f"trtdiff: warning: {warning}", err=True)
    _emit_json(data, mine["json_path"])
    if mine["report_path"]:
        session.write_html_report(setup, data, mine["report_path"])
    if not stdout_taken:
        session.print_bisect(found, files)
    click.get_current_context().exit(int(ExitCode.PASSED if found.passed else ExitCode.MISMATCH))


@bisect_group.command("reduce")
@_common
@click.option("--fail-on", type=click.Choice(FAIL_ON), default="any", show_default=True,
              help="What counts as the failure: an accuracy mismatch, the target erroring out, or either.")
def reduce_command(**options: Any) -> None:
    """Cut the model down to the smallest subgraph that still fails, outputs first, then inputs, and
    save it with its inputs (captured from the reference run) so `trtdiff run` reproduces it.

    Intermediate tensors are judged with the same tolerances as outputs: give --rtol so that
    large-valued tensors are judged relative to their size."""
    mine = {k: options.pop(k) for k in ("fail_on", "json_path", "output_dir")}
    given = dict(options)
    setup = session.prepare(options.pop("model"), dict(options, no_progress=mine["json_path"] == "-"),
                            capture_all=True)
    setup.close()  # reduce works on one sample (setup.reference): the others' outputs are not needed
    with session.progress_bar(mine["json_path"] != "-", what="subgraph") as hook:
        result = reduce_failure(setup.model, setup.reference, setup.reduce_check(), fail_on=mine["fail_on"],
                                progress=lambda n, size: hook(n, size, False))
    directory = Path(mine["output_dir"] or f"{Path(setup.model_path).stem}_reduced")
    calibration = setup.data.calibration  # INT8/FP8: the reduced model's inputs over the calibration samples
    paths = save_reduced(result, directory, calibration=None if calibration is None else calibration_inputs(
        setup.model, list(result.inputs), calibration, lambda marked: OnnxRuntimeRunner(marked, optimize=False)))
    tensors = {o for node in result.model.graph.node for o in node.output} | {i.name for i in result.model.graph.input}
    rerun = session.rerun_command(paths["model"], paths["inputs"], given, set(result.nodes), tensors,
                                  paths.get("calibration"))
    data = {"model": setup.model_path, **result.to_dict(), "files": {k: str(v) for k, v in paths.items()},
            "reproduce": rerun}
    _emit_json(data, mine["json_path"])
    if mine["json_path"] != "-":
        _print_reduce(result, paths, rerun)
    click.get_current_context().exit(int(ExitCode.MISMATCH))  # the reduced model fails: that is its point


def _print_reduce(result: ReduceResult, paths: dict[str, Path], rerun: str) -> None:
    click.echo(f"reduced {result.original_nodes} nodes to {len(result.nodes)} in {result.evaluations} evaluations "
               f"(outputs {result.phases.get('outputs', 0)}, inputs {result.phases.get('inputs', 0)})")
    if is_quiet():  # -q: that line alone
        return
    click.echo(f"  nodes:   {', '.join(result.nodes)}")
    click.echo(f"  inputs:  {', '.join(result.inputs)}   outputs: {', '.join(result.outputs)}")
    failing = result.outcome.info.get("failing") or {}
    for name, why in failing.items():
        click.echo(f"  fails:   {name}: {why}")
    if result.outcome.info.get("error"):
        click.echo(f"  error:   {result.outcome.info['error']}")
    calibration = f" (calibration samples: {paths['calibration']})" if "calibration" in paths else ""
    click.echo(f"  saved:   {paths['model']} and {paths['inputs']}{calibration}")
    click.echo(f"  reproduce: {rerun}")


def _emit_json(data: dict[str, Any], path: str | None) -> None:
    if path is None:
        return
    text = json.dumps(data, indent=1, default=str)
    if path == "-":
        click.echo(text)
    else:
        write_text_atomic(path, text + "\n")


def _resume_command(state: Path) -> str:
    args = ["trtdiff", *sys.argv[1:]] if sys.argv and Path(sys.argv[0]).name in ("trtdiff", "__main__.py") \
        else ["trtdiff", "bisect", "MODEL", "..."]
    if "--state" not in args:
        args += ["--state", str(state)]
    return shlex.join(args)

