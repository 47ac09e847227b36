"""`trtdiff plan export PLAN --model M --format F -o PATH`: a precision plan in another tool's form.

Listed in cli.py's COMMANDS (loaded when `trtdiff plan` runs).
"""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np
import onnx

from trtdiff.options.paths import CheckedGroup, InputPath, OutputFileOrFolder

from trtdiff.fileio import is_stdout
from trtdiff.model import load_model
from trtdiff.precision.export import FORMATS, export_all, export_plan
from trtdiff.precision.plan import PrecisionPlan


@click.group("plan", cls=CheckedGroup)
def plan_group() -> None:
    """Precision plans: which nodes run in FP32, exported for other tools."""


@plan_group.command("export")
@click.argument("plan_file", metavar="PLAN", type=InputPath(dir_okay=False, path_type=Path))
@click.option("--model", "model_path", required=True, type=InputPath(dir_okay=False, path_type=Path),
              help="The FP32 ONNX model the plan is for.")
@click.option("--format", "fmt", type=click.Choice((*FORMATS, "all")), default="onnx", show_default=True,
              help="onnx: the mixed-precision model; trtdiff: plan JSON; modelopt: AutoCast/quantization "
                   "excludes; onnxruntime: onnxconverter-common node_block_list (fp16) or quantize_static "
                   "(int8); trtexec / polygraphy: layer precisions (TensorRT <= 10.x only); all: every "
                   "format into the directory -o names.")
@click.option("-o", "--output", required=True, type=OutputFileOrFolder(path_type=Path),
              help="File to write (a directory with --format all).")
@click.option("--calibration-data", "calibration", multiple=True, metavar="PATH",
              type=InputPath(path_type=Path),
              help="INT8/FP8: samples to calibrate scales on, any source `run --calibration-data` takes (a .npz, "
                   "a directory of .npz or test_data_set_*, a Polygraphy JSON, FILE.py[:FUNC]); repeatable.")
@click.option("--emulated", is_flag=True,
              help="onnx: write the emulated model (FP32 compute, Cast pairs or fake quantization: for checking, "
                   "not deployment) instead of the native one; all: write it as well, as model.TYPE.emulated.onnx.")
def export_command(plan_file: Path, model_path: Path, fmt: str, output: Path,
                   calibration: tuple[Path, ...], emulated: bool) -> None:
    """Write PLAN for MODEL in the chosen format. The ONNX model is the native one to deploy
    (lower-precision weights and activations) whatever mode the plan was evaluated in."""
    plan = PrecisionPlan.load(plan_file)
    model = load_model(model_path)
    feeds = _calibration_feeds(calibration, model)
    if fmt == "all":
        written = export_all(plan, model, output, feeds, model_path=str(model_path), emulated=emulated)
        for name, path in written.items():
            click.echo(f"{name:12s} {path}")
        return
    path = export_plan(plan, model, fmt, output, feeds, model_path=str(model_path), emulated=emulated)
    what = ""
    if fmt == "onnx" and plan.lowers:
        what = (" (emulated: FP32 compute, for checking, not deployment)" if emulated
                else f" (native {plan.default}: the model to deploy)")
    click.echo(f"{fmt:12s} {'stdout' if is_stdout(output) else path}{what}", err=is_stdout(output))


def _calibration_feeds(paths: tuple[Path, ...], model: onnx.ModelProto) -> list[dict[str, np.ndarray]] | None:
    """Every sample of every --calibration-data source, checked against the model's inputs as
    `run` checks them (the sources `run --calibration-data` takes)."""
    from trtdiff.dataset import DataSet, open_path
    from trtdiff.inputs import input_specs

    specs = input_specs(model)
    return [dict(sample) for path in paths for sample in DataSet(open_path(str(path)), specs)] or None
