"""Progress bars on stderr (rich), for any phase that can take more than a second or two.

    with progress("samples", total=500, enabled=not no_progress) as advance:
        for sample in samples:
            ...
            advance()            # one step; advance(3) for three, advance(0, "note") to relabel

Shown only when both stderr and stdout are terminals (a log, a pipe or CI sees nothing) and when
`enabled`; otherwise the callback does nothing. The bar is transient: it disappears when the
block ends, leaving the terminal to the results.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Advance = Callable[..., None]  # advance(steps: int = 1, description: str | None = None)


def _nothing(steps: int = 1, description: str | None = None) -> None:
    return None


def wanted(enabled: bool = True) -> bool:
    """Whether a bar would be shown: enabled, and stderr and stdout are both terminals."""
    return enabled and sys.stderr.isatty() and sys.stdout.isatty()


@contextmanager
def progress(description: str, total: int | None = None, enabled: bool = True) -> Iterator[Advance]:
    """A bar counting steps toward `total` (a spinner and a count when the total is unknown)."""
    if not wanted(enabled):
        yield _nothing
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, \
        TimeElapsedColumn, TimeRemainingColumn

    columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TimeRemainingColumn()]
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=total)

        def advance(steps: int = 1, description: str | None = None) -> None:
            if description is None:
                bar.advance(task, steps)
            else:
                bar.update(task, advance=steps, description=description)

        yield advance
