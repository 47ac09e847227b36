"""Options for how a comparison is shown and summarised (--table, --wide, --divergence-snr), and
the one call that prints it: results on stdout, warnings on stderr, the verdict alone with -q."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar

import click

from trtdiff.options.verbosity import is_quiet
from trtdiff.result import DEFAULT_DIVERGENCE_SNR_DB, Comparison

F = TypeVar("F", bound=Callable[..., Any])


class _Finite(click.ParamType):
    """A float that is a number: NaN and infinities are refused (click's float takes them)."""

    name = "float"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return float(number)


FINITE = _Finite()


def display_options(func: F) -> F:
    """--table, --wide, --divergence-snr."""
    for option in reversed([
        click.option("--table", "table_mode", type=click.Choice(["auto", "all", "failing"]), default="auto",
                     show_default=True, help="Which tensors the terminal table lists."),
        click.option("--wide", is_flag=True,
                     help="Every column of the terminal table and full names, however wide (default: the "
                          "columns that fit the terminal, names shortened in the middle)."),
        click.option("--divergence-snr", "divergence_snr", type=FINITE, default=DEFAULT_DIVERGENCE_SNR_DB,
                     show_default=True, metavar="DB",
                     help="The first tensor whose SNR falls below this (or that holds NaN/Inf where the "
                          "reference is finite) is named as the first divergence, whatever the tolerances."),
    ]):
        func = option(func)
    return func


def show_comparison(comparison: Comparison, table_mode: str = "auto", wide: bool = False,
                    stdout_taken: bool = False) -> None:
    """Print `comparison` for the terminal (see trtdiff.terminal); all of it on stderr when stdout
    carries a file (`--json -`)."""
    from trtdiff.terminal import consoles, print_comparison

    out, err = consoles()
    print_comparison(comparison, err if stdout_taken else out, err, mode=table_mode, wide=wide, quiet=is_quiet())
