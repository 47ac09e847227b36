"""Click options that say how a sample is judged: tolerances (with per-tensor overrides), checks,
the relative-error floor and the share of samples that must pass."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from trtdiff.measure.checks import CHECK_HELP
from trtdiff.measure.tolerance import DEFAULT_REL_FLOOR, ToleranceSpec, tolerance_spec_from_options
from trtdiff.options import apply_options
from trtdiff.options.given import refuse_given

F = TypeVar("F", bound=Callable[..., Any])

TOLERANCE_KEYS = ("atol", "rtol", "check", "rel_floor", "min_agreement", "topk_axis")


def tolerance_options(func: F) -> F:
    """--atol, --rtol (with NAME:VALUE overrides), --check (repeatable), --rel-floor, --min-agreement,
    --topk-axis."""
    return apply_options([
        click.option("--atol", multiple=True, metavar="VALUE|NAME:VALUE",
                     help="Absolute tolerance (default 1e-3); NAME:VALUE sets one tensor's. Repeatable."),
        click.option("--rtol", multiple=True, metavar="VALUE|NAME:VALUE",
                     help="Relative tolerance (default 1e-3); NAME:VALUE sets one tensor's. Repeatable."),
        click.option("--check", multiple=True, metavar="[NAME:]CHECK",
                     help=f"What a sample must pass: {CHECK_HELP}. elementwise (default): every element within "
                          "atol + rtol*|ref|; max/mean/median/p99: that statistic of the error within atol (or "
                          "of the relative error within rtol); cosine:MIN, snr:DB, topk:K (top-K indices agree). "
                          "Repeatable; all must hold."),
        click.option("--rel-floor", type=float, default=DEFAULT_REL_FLOOR, show_default=True,
                     help="Relative error divides by max(|ref|, this)."),
        click.option("--min-agreement", type=float, default=1.0, show_default=True,
                     help="The share of samples that must pass (0 to 1)."),
        click.option("--topk-axis", type=int, default=-1, show_default=True, help="The axis topk:K looks along."),
    ], func)


def tolerances_from(atol: tuple[str, ...], rtol: tuple[str, ...], check: str | tuple[str, ...], rel_floor: float,
                    min_agreement: float = 1.0, topk_axis: int = -1) -> ToleranceSpec:
    return tolerance_spec_from_options(atol, rtol, check or ("elementwise",), rel_floor, min_agreement, topk_axis)


def pop_tolerances(options: dict[str, Any]) -> ToleranceSpec:
    """The ToleranceSpec of a command's options, taking the tolerance options out of `options`."""
    if not any("topk" in check for check in options.get("check") or ()):
        refuse_given(("topk_axis",), "it sets the axis of a topk:K check, and no --check is topk",
                     "Drop --topk-axis, or add --check topk:K")
    return tolerances_from(**{key: options.pop(key) for key in TOLERANCE_KEYS})
