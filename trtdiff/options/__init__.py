"""Options shared by several commands, and the one place each becomes a library object: click
definitions (`*_options` decorators) next to the functions that turn their values into a
TargetSpec, InputSettings, ToleranceSpec or a `trtdiff.compare(...)` call. The library's own
callers (the Python API, baselines) use the same conversions, so the two can never disagree.
`trtdiff/commands/` holds one module per command on top of these."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def apply_options(options: list[Callable[[F], F]], func: F) -> F:
    """Decorate `func` with click options, the first listed shown first in --help."""
    for option in reversed(options):
        func = option(func)
    return func
