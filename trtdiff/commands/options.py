"""Click options shared by commands that run a model (run, bisect, reduce): inputs and tolerances."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from trtdiff.compare.metrics import CHECKS
from trtdiff.compare.tolerance import DEFAULT_REL_FLOOR, ToleranceSpec, tolerance_spec_from_options
from trtdiff.inputs import InputSettings, parse_range_arg, parse_shape_arg

F = TypeVar("F", bound=Callable[..., Any])


def _apply(options: list[Callable[[F], F]], func: F) -> F:
    for option in reversed(options):
        func = option(func)
    return func


def input_options(func: F) -> F:
    """--input-shapes, --val-range, --seed, --load-inputs."""
    return _apply([
        click.option("--input-shapes", "input_shapes", multiple=True, metavar="NAME:SHAPE",
                     help="Shape for a dynamic input: images:[1,3,224,224] or images:1x3x224x224. Repeatable."),
        click.option("--val-range", "val_ranges", multiple=True, metavar="[LO,HI]|NAME:[LO,HI]",
                     help="Range of generated values, for every input or one. Default [0,1]."),
        click.option("--seed", type=int, default=1, show_default=True, help="Seed for generated inputs."),
        click.option("--load-inputs", "load_inputs", type=click.Path(), default=None,
                     help="Inputs from .npz, .npy, a directory of .npy or ONNX .pb files, or "
                          "Polygraphy --save-inputs JSON."),
    ], func)


def input_settings_from(input_shapes: tuple[str, ...], val_ranges: tuple[str, ...], seed: int,
                        load_inputs: str | None) -> InputSettings:
    shapes = dict(parse_shape_arg(s) for s in input_shapes)
    ranges = dict(parse_range_arg(r) for r in val_ranges)
    return InputSettings(shapes, ranges, seed, load_inputs)


def tolerance_options(func: F) -> F:
    """--atol, --rtol (with NAME:VALUE overrides), --check, --rel-floor."""
    return _apply([
        click.option("--atol", multiple=True, metavar="VALUE|NAME:VALUE",
                     help="Absolute tolerance (default 1e-3); NAME:VALUE sets one tensor's. Repeatable."),
        click.option("--rtol", multiple=True, metavar="VALUE|NAME:VALUE",
                     help="Relative tolerance (default 1e-3); NAME:VALUE sets one tensor's. Repeatable."),
        click.option("--check", type=click.Choice(CHECKS), default="elementwise", show_default=True,
                     help="elementwise: every element within atol + rtol*|ref|; max/mean/median/p99: that "
                          "statistic of the error within atol (or of the relative error within rtol)."),
        click.option("--rel-floor", type=float, default=DEFAULT_REL_FLOOR, show_default=True,
                     help="Relative error divides by max(|ref|, this)."),
    ], func)


def tolerances_from(atol: tuple[str, ...], rtol: tuple[str, ...], check: str, rel_floor: float) -> ToleranceSpec:
    return tolerance_spec_from_options(atol, rtol, check, rel_floor)
