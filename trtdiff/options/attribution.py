"""--attribute/--no-attribute and --memory-budget, shared by commands that run a comparison."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from trtdiff.resources import parse_size

F = TypeVar("F", bound=Callable[..., Any])


def attribution_options(func: F) -> F:
    func = click.option("--memory-budget", default="256M", show_default=True, metavar="SIZE",
                        help="Most tensor memory one attribution (shadow) model feeds and produces, "
                             "e.g. 512M or 4G; beyond it nodes are split over several shadow runs.")(func)
    return click.option("--attribute/--no-attribute", "attribute", default=None,
                        help="Measure the error each node introduces itself (local error, fed the "
                             "reference's inputs), amplification, cause hints and offenders. "
                             "[default: with --mark-all, when the verdict fails]")(func)


def attribution_from(options: dict[str, Any], mark_all: bool) -> tuple[str, int]:
    """(attribution mode for RunRequest: "on", "off" or "on-failure"; memory budget in bytes),
    taking the two options out of `options`."""
    attribute = options.pop("attribute", None)
    budget = parse_size(str(options.pop("memory_budget", "256M")))
    if attribute is None:
        return ("on-failure" if mark_all else "off"), budget
    return ("on" if attribute else "off"), budget
