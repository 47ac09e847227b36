"""What `trtdiff bisect` and `trtdiff bisect reduce` share: turning options into a model, a plan,
inputs, the reference run and tolerances; the progress bar; writing and printing results."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import onnx

from trtdiff.bisect.evaluate import Feeds, Infer, onnxruntime_infer, plan_check
from trtdiff.bisect.precision import PrecisionBisect
from trtdiff.bisect.reduce import capture_reference
from trtdiff.bisect.state import Outcome, ProgressHook
from trtdiff.commands.bisect_data import DataSetup, prepare_data
from trtdiff.errors import ModelError, UsageError, close_names
from trtdiff.fileio import write_text_atomic
from trtdiff.model import load_model, save_model
from trtdiff.progress import progress
from trtdiff.result import Tolerances

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class Setup:
    """A loaded model, its plan, inputs and reference, ready for a search."""

    model_path: str
    model: onnx.ModelProto
    plan: Any
    feeds: Feeds
    reference: dict[str, np.ndarray]
    infer: Infer
    target_spec: Any  # trtdiff.pipeline.TargetSpec (also rebuilds the comparison for --report)
    input_settings: Any  # trtdiff.inputs.InputSettings
    tolerance_spec: Any  # trtdiff.measure.tolerance.ToleranceSpec
    data: DataSetup  # the samples, their reference outputs, the judge over them, calibration
    data_options: dict[str, Any]  # --load-outputs, --calibration-data as given (for --report's run)

    @property
    def tolerances(self) -> Tolerances:
        return self.tolerance_spec.as_result()  # type: ignore[no-any-return]

    @property
    def target(self) -> str:
        return str(self.target_spec.description)

    def reduce_check(self) -> Callable[[onnx.ModelProto, Feeds], Outcome]:
        return plan_check(self.plan, self.reference, self.tolerances, self.infer, self.data.apply)

    def close(self) -> None:
        """Remove the reference outputs kept on disk, if any."""
        self.data.store.close()


def prepare(model_path: str, options: dict[str, Any], capture_all: bool = False) -> Setup:
    """Options -> Setup. `options` holds the input, tolerance and target options (consumed); the
    target is chosen as for `trtdiff run` (on a CPU-only ONNX Runtime, FP16/BF16 run emulated)."""
    from trtdiff.options.data import pop_input_settings
    from trtdiff.options.tolerances import pop_tolerances
    from trtdiff.options.targets import target_from_options
    from trtdiff.precision.plan import PrecisionPlan, validate_plan

    model = load_model(model_path)
    settings = pop_input_settings(options)
    spec = pop_tolerances(options)
    given = {key: options.get(key) for key in ("load_outputs", "calibration_data")}
    show_progress = not options.pop("no_progress", False)
    target = target_from_options(options)
    if target.plan is None:
        raise UsageError("bisect needs a precision to search, not --target-model",
                         "it varies which nodes of the model stay in FP32, so it converts the model itself",
                         "pass --fp16, --bf16, --int8, --fp8 or --emulate TYPE instead of --target-model")
    plan = PrecisionPlan.from_dict(target.plan)
    validate_plan(plan, model)
    for note in target.notes:
        log.warning("%s", note)
    names = [o for node in model.graph.node for o in node.output if o] + [i.name for i in model.graph.input]
    spec.check_names(names if capture_all else [o.name for o in model.graph.output])
    data = prepare_data(model, plan, settings, spec, target.make_runner, options, show_progress)
    feeds = data.feeds
    reference_infer = onnxruntime_infer(("CPUExecutionProvider",))
    reference = capture_reference(model, feeds, reference_infer) if capture_all else data.store[data.sample]
    return Setup(model_path, model, plan, feeds, reference, _target_infer(target.make_runner), target, settings, spec,
                 data, given)


def _target_infer(make_runner: Callable[[onnx.ModelProto], Any]) -> Infer:
    def infer(model: onnx.ModelProto, feeds: Feeds) -> dict[str, np.ndarray]:
        with make_runner(model) as runner:
            return dict(runner.infer(dict(feeds)))

    return infer


def write_html_report(setup: Setup, bisect: dict[str, Any], path: str) -> None:
    """The run report of the original target (every tensor compared), with the bisect results in
    `Comparison.bisect`: where the error comes from, and what to keep in FP32 about it."""
    import dataclasses
    import shlex

    from trtdiff.pipeline import RunRequest, TensorSelection, run_comparison
    from trtdiff.report.html import write_report

    request = RunRequest(setup.model_path, setup.target_spec, TensorSelection(mark_all=True), setup.input_settings,
                         setup.tolerance_spec, command=shlex.join(["trtdiff", *sys.argv[1:]]), **setup.data_options)
    comparison = dataclasses.replace(run_comparison(request), bisect=bisect)
    write_report(comparison, path)


def read_ranking(path: str | None, model: onnx.ModelProto) -> list[str] | None:
    """Node names from a text file (one per line, '#' comments) or a JSON list of strings; None:
    attribution's ranking. A name the model does not have is refused (a typo would be ignored)."""
    if path is None:
        return None
    from trtdiff.precision.plan import all_node_names
    from trtdiff.typed import Document, decode, read_json

    doc = Document(path, "ranking", "list node names, one per line, or as a JSON list of strings")
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    if text.lstrip().startswith("["):
        names = list(decode(tuple[str, ...], read_json(path, doc), doc, "ranking"))
    else:
        names = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    known = all_node_names(model.graph)
    unknown = [name for name in names if name not in set(known)]
    if unknown:
        raise UsageError(f"--ranking {path} names node '{unknown[0]}', which is not in the model"
                         + (f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""),
                         f"close names: {close_names(unknown[0], known)}",
                         "use node names (not tensor names) as `trtdiff run` shows them")
    return names


@contextlib.contextmanager
def progress_bar(enabled: bool, what: str = "FP32 set") -> Iterator[ProgressHook]:
    """A progress line on stderr (trtdiff.progress): evaluations so far, the current set size and
    its verdict."""
    with progress("bisect: starting", None, enabled) as advance:
        def hook(evaluations: int, size: int, passed: bool) -> None:
            verdict = "pass" if passed else "fail"
            advance(1, f"bisect: {evaluations} evaluations, {what} {size} nodes ({verdict})")

        yield hook


def check_reference(setup: Setup, allowed: bool) -> None:
    """Refuse a search against FP32 reference outputs that hold NaN/Inf (where NaN in the target
    agrees, so every plan would pass), unless the user accepts it."""
    from trtdiff.verdict_checks import ALLOW_FLAG

    for name, value in setup.reference.items():
        array = np.asarray(value)
        if array.dtype.kind != "f":
            continue
        nan, inf = int(np.isnan(array).sum()), int(np.isinf(array).sum())
        if (nan or inf) and not allowed:
            raise ModelError(f"the FP32 reference output '{name}' holds {nan} NaN and {inf} Inf of {array.size} values",
                             "NaN and the same infinity agree with the target, so a search would pass on them",
                             f"check the model and inputs, or pass {ALLOW_FLAG} to search anyway")
        if nan or inf:
            log.warning("the FP32 reference output '%s' holds %d NaN and %d Inf (accepted)", name, nan, inf)


def write_outputs(found: PrecisionBisect, setup: Setup, output_dir: str | None,
                  emulated: bool = False) -> dict[str, Path]:
    """The mixed-precision model to deploy (native) and every export of the plan, in `output_dir`;
    the emulated model too when asked for (named `*.emulated.onnx`)."""
    if output_dir is None or not found.passed:
        return {}
    from trtdiff.precision.export import FILE_NAMES, model_file_name
    from trtdiff.precision.plan import PrecisionPlan

    folder = Path(output_dir)
    files: dict[str, Path] = {}
    if isinstance(found.plan, PrecisionPlan) and found.plan.lowers:
        for key, mode in (("model", "native"), ("emulated model", "emulated"))[: 1 + emulated]:
            files[key] = folder / model_file_name(found.plan, mode == "emulated")
            variant = dataclasses.replace(found.plan, mode=mode)
            save_model(setup.data.apply(setup.model, variant, setup.feeds).model, files[key])
    for fmt, text in found.exports.items():
        files[f"export:{fmt}"] = folder / FILE_NAMES[fmt]
        write_text_atomic(files[f"export:{fmt}"], text)
    return files


def with_next_step(found: PrecisionBisect, setup: Setup, files: dict[str, Path]) -> PrecisionBisect:
    """`found` with the command that applies its plan (trtdiff.next_step.after_bisect)."""
    from trtdiff.next_step import TargetWords, after_bisect, data_words

    plan_file = files.get("export:trtdiff")
    steps = after_bisect(setup.model_path, found.search.fp32, found.passed,
                         setup.target_spec.cli_words or TargetWords(), setup.input_settings, setup.tolerance_spec,
                         data_words(**setup.data_options), str(plan_file) if plan_file is not None else None)
    return dataclasses.replace(found, next_steps=steps)


def print_bisect(found: PrecisionBisect, files: dict[str, Path]) -> None:
    """The whole FP32 set (each node with what kept it and why), output errors before/after,
    evaluations, how the plan was evaluated, files, and the command that applies the plan. Model
    strings (node names, reasons, paths) are printed as text, never read as rich markup."""
    from rich.table import Table
    from rich.text import Text

    from trtdiff.options.verbosity import is_quiet
    from trtdiff.terminal import consoles, print_next_steps

    console = consoles()[0]
    console.print(Text(found.message))
    if is_quiet():  # -q: the verdict line alone
        return
    if found.fp32_nodes:
        table = Table("node", "op", "source", "rank", "why it is in FP32", title="keep in FP32", title_justify="left")
        for row in found.fp32_nodes:
            table.add_row(*(Text(str(cell)) for cell in (row["node"], row["op_type"], row.get("source", "search"),
                                                         row["rank"] or "-", row["reason"])))
        console.print(table)
    for name in found.outputs_before:
        after = found.outputs_after.get(name)
        console.print(Text(f"output {name}: max_abs {found.outputs_before[name]:.3g} before"
                           + (f", {after:.3g} after" if after is not None else "")))
    phases = ", ".join(f"{k} {v}" for k, v in found.search.phases.items())
    console.print(Text(f"evaluations: {found.search.evaluations}" + (f" ({phases})" if phases else "")
                       + f"; ranking: {found.ranking_source}"))
    if found.evaluated.get("note"):
        console.print(Text(f"evaluated: {found.evaluated.get('target', '')}: {found.evaluated['note']}"))
    for warning in found.warnings:
        console.print(Text.assemble(("warning: ", "yellow"), warning))
    for kind, path in files.items():
        console.print(Text(f"wrote {kind}: {path}"))
    if not files and found.passed and found.fp32_nodes:
        console.print("add -o DIR to write the mixed-precision model and the plan's exports")
    print_next_steps(found.next_steps, console)


def rerun_command(model: Path, inputs: Path, options: dict[str, Any], nodes: set[str], tensors: set[str],
                  calibration: Path | None = None) -> str:
    """`trtdiff run` on the reduced model with the same precision and tolerance options (the
    --keep-fp32 nodes limited to those left in the piece, and the NAME:-prefixed tolerances and
    checks to its `tensors`: `trtdiff run` refuses names the model lacks), calibrated on
    `calibration` (the reduced model's inputs over the samples the whole model was calibrated on)."""
    import shlex

    from trtdiff.measure.checks import parse_check

    words = ["trtdiff", "run", str(model), "--load-inputs", str(inputs)]
    if calibration is not None:
        words += ["--calibration-data", str(calibration)]
    on_trt = options.get("target_backend") not in (None, "onnxrt")
    if on_trt:
        words += ["--target", str(options["target_backend"])]
    for flag in ("fp16", "bf16", "int8", "fp8", "native"):
        if options.get(flag):
            words.append(f"--{flag}")
    for key in ("emulate", "precision_plan", "calibration", "out_of_range", "target_providers", "rel_floor"):
        if options.get(key) is not None and not (on_trt and key == "target_providers"):
            words += [f"--{key.replace('_', '-')}", str(options[key])]
    for value in options.get("keep_fp32_op") or ():
        words += ["--keep-fp32-op", str(value)]
    for value in options.get("check") or ():
        if parse_check(str(value)).tensor in (None, *tensors):
            words += ["--check", str(value)]
    for key in ("atol", "rtol"):
        for value in options.get(key) or ():
            name, sep, _ = str(value).rpartition(":")
            if not sep or name in tensors:
                words += [f"--{key}", str(value)]
    for node in options.get("keep_fp32") or ():
        if node in nodes:
            words += ["--keep-fp32", node]
    return shlex.join(words)
