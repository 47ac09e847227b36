"""What a comparison runs (target, tensors, data, tolerances, reference, attribution), as options
shared by `run`, `baseline save` and `check`, and the one place those options become a
`trtdiff.compare(...)` call.

A baseline stores these options (`saved_options`) so that `check` reruns the same comparison;
`replay_options` merges the stored ones with those given again. Options come in groups that only
make sense together: giving any target option (or any input option) replaces the baseline's whole
target (or inputs); any other option replaces just that one.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import click

from trtdiff.options.attribution import attribution_from, attribution_options
from trtdiff.options.data import INPUT_KEYS, data_options, input_options, pop_input_settings
from trtdiff.options.tolerances import pop_tolerances, tolerance_options
from trtdiff.options.targets import providers_from, reference_from_options, target_from_options, target_options
from trtdiff.options.verbosity import is_quiet
from trtdiff.errors import UsageError, close_names
from trtdiff.result import Comparison

F = TypeVar("F", bound=Callable[..., Any])
NOT_SAVED = ("no_progress",)  # how a run is shown, not what it compares


def comparison_options(func: F) -> F:
    """Every option that decides what a comparison computes."""
    func = attribution_options(func)
    for option in reversed([
        click.option("--reference", "reference_backend", type=click.Choice(["onnxrt", "trt"]), default="onnxrt",
                     show_default=True, help="What runs the FP32 reference: ONNX Runtime, or TensorRT (FP32, TF32 off)."),
        click.option("--providers", default="cpu", show_default=True,
                     help="ONNX Runtime providers for the reference, comma-separated (cpu, cuda, ...)."),
        click.option("--allow-nonfinite-reference", is_flag=True,
                     help="Let the verdict pass although a gated FP32 reference output holds NaN/Inf (reported "
                          "either way)."),
    ]):
        func = option(func)
    func = tolerance_options(data_options(input_options(func)))
    for option in reversed([
        click.option("--mark-all", is_flag=True, help="Compare every intermediate tensor of the main graph."),
        click.option("--outputs", "outputs", multiple=True, metavar="TENSOR",
                     help="Compare these tensors (besides the graph outputs). Repeatable."),
        click.option("--mark-shape-tensors", is_flag=True,
                     help="Also compare integer shape-plumbing tensors (skipped by --mark-all by default)."),
    ]):
        func = option(func)
    return target_options(func)


def compare_from_options(model: str | os.PathLike[str], options: Mapping[str, Any], *, fail_on: str = "outputs",
                         command: str = "", **extra: Any) -> Comparison:
    """Run the comparison the options describe (`extra`: RunRequest fields such as save_outputs)."""
    from trtdiff.api import compare

    options = dict(options)
    mark_all = options.pop("mark_all")
    reference_runner, reference_description = reference_from_options(options.pop("reference_backend"), options)
    attribution, memory_budget = attribution_from(options, mark_all)
    return compare(
        model,
        target_from_options(options),
        inputs=pop_input_settings(options),
        mark_all=mark_all,
        outputs=options.pop("outputs"),
        tolerances=pop_tolerances(options),
        attribute={"on": True, "off": False}.get(attribution),
        attribute_sample=options.pop("attribute_sample"),
        load_outputs=options.pop("load_outputs"),
        calibration_data=options.pop("calibration_data"),
        progress=not options.pop("no_progress") and not is_quiet(),  # -q: the verdict line alone
        include_shape_tensors=options.pop("mark_shape_tensors"),
        reference_providers=providers_from(options.pop("providers")),
        reference_runner=reference_runner,
        reference_description=reference_description,
        fail_on=fail_on,
        allow_nonfinite_reference=options.pop("allow_nonfinite_reference"),
        command=command,
        memory_budget=memory_budget,
        **extra,
    )


@functools.cache
def _parameters() -> dict[str, click.Parameter]:
    @comparison_options
    def probe(**_: Any) -> None:
        """Only here to collect the options' definitions."""

    return {p.name: p for p in click.command()(probe).params if p.name}


@functools.cache
def _target_names() -> frozenset[str]:
    @target_options
    def probe(**_: Any) -> None:
        """Only here to collect the target options' names."""

    return frozenset(p.name for p in click.command()(probe).params if p.name)


def comparison_option_names() -> frozenset[str]:
    return frozenset(_parameters())


def option_groups() -> list[frozenset[str]]:
    """The options that are replaced together: the target's, the inputs', then each other one."""
    groups = [_target_names(), frozenset(INPUT_KEYS)]
    grouped = set().union(*groups)
    return groups + [frozenset([name]) for name in _parameters() if name not in grouped]


def saved_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The comparison options as JSON values (tuples as lists, paths as strings)."""
    def plain(value: Any) -> Any:
        if isinstance(value, (tuple, list)):
            return [plain(v) for v in value]
        return str(value) if isinstance(value, Path) else value

    return {name: plain(options[name]) for name in _parameters() if name in options and name not in NOT_SAVED}


def replay_options(saved: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """Every comparison option: defaults, then the saved ones, then for each group with a given
    option, that whole group as given (the rest of it at its defaults). Values are checked and
    converted by the options' own types, so a bad saved value is a usage error like a bad flag."""
    parameters = _parameters()
    unknown = sorted(set(given) - set(parameters))
    if unknown:
        raise UsageError(f"unknown option '{unknown[0]}'", "check takes the options of `trtdiff run`",
                         f"close names: {close_names(unknown[0], sorted(parameters))}")
    context = click.Context(click.Command("check"))
    values = {name: _default(param, context) for name, param in parameters.items()}
    values.update({k: v for k, v in saved.items() if k in parameters})
    replaced: set[str] = set()
    for group in option_groups():
        if group & set(given):
            replaced |= group
            values.update({name: _default(parameters[name], context) for name in group})
            values.update({name: given[name] for name in group if name in given})
    for name in sorted(set(saved) & set(parameters) - replaced):
        _check_saved_path(parameters[name], saved[name])
    return {name: _cast(parameters[name], context, value) for name, value in values.items()}


def _check_saved_path(parameter: click.Parameter, value: Any) -> None:
    """A file the baseline names (a plan, inputs, a loader script...) that is not where it was:
    said as the baseline's, not as if the user had typed it."""
    if getattr(parameter.type, "role", None) != "input" or not value:
        return
    for item in value if isinstance(value, (list, tuple)) else (value,):
        path = str(item)
        path = path.rsplit(":", 1)[0] if ".py:" in path else path
        if not os.path.exists(path):
            flag = "--" + str(parameter.name).replace("_", "-")
            raise UsageError(f"the baseline's {flag} {item} does not exist here",
                             "paths in a baseline are used as they were given to `baseline save`, relative to the "
                             f"directory `check` runs in ({os.getcwd()})",
                             f"run check from the directory the baseline was saved in, or give {flag} again")


def _default(parameter: click.Parameter, context: click.Context) -> Any:
    value = parameter.get_default(context)
    if parameter.multiple and not isinstance(value, (list, tuple)):
        return ()  # click's "unset" marker for a repeatable option given no default
    return value


def _cast(parameter: click.Parameter, context: click.Context, value: Any) -> Any:
    if value is None:
        return () if parameter.multiple else None
    try:
        return parameter.type_cast_value(context, value)
    except click.BadParameter as err:
        raise UsageError(f"option {parameter.name} has an unusable value {value!r}", err.format_message(),
                         "give it again on the command line") from err
