"""Progress bars on stderr (rich), for any phase that can take more than a second or two.

    with progress("samples", total=500, enabled=not no_progress) as advance:
        for sample in samples:
            ...
            advance()            # one step; advance(3) for three, advance(0, "note") to relabel

    with phases(enabled) as bar:          # one display, phase after phase
        bar.start("reference run")        # a spinner
        bar.start("target segments", 12)  # a bar of 12 steps
        bar.advance()

Shown only when both stderr and stdout are terminals (a log, a pipe or CI sees nothing) and when
`enabled`; otherwise the callback does nothing. The bar is transient: it disappears when the
block ends, leaving the terminal to the results.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

Advance = Callable[..., None]  # advance(steps: int = 1, description: str | None = None)


def wanted(enabled: bool = True) -> bool:
    """Whether a bar would be shown: enabled, and stderr and stdout are both terminals."""
    return enabled and sys.stderr.isatty() and sys.stdout.isatty()


class Phases:
    """One progress display for a command whose phases come one after another (building the
    target, the reference run, the target's segments or the samples, attribution): `start` relabels
    the bar and resets it to a new total (None: a spinner and a count), `advance` steps it. Made by
    `phases`; without a display (not wanted) both do nothing."""

    def __init__(self, bar: Any = None) -> None:
        self._bar = bar
        self._task = bar.add_task("", total=None) if bar is not None else None

    def start(self, description: str, total: int | None = None) -> None:
        """A new phase: a fresh task, so that a phase without a total shows no count left over
        from the one before (rich's `reset(total=None)` keeps the old total: "0/6" on a spinner)."""
        if self._bar is not None:
            self._bar.remove_task(self._task)
            self._task = self._bar.add_task(description, total=total)

    def advance(self, steps: int = 1, description: str | None = None) -> None:
        if self._bar is None:
            return
        if description is None:
            self._bar.advance(self._task, steps)
        else:
            self._bar.update(self._task, advance=steps, description=description)


@contextmanager
def phases(enabled: bool = True) -> Iterator[Phases]:
    """The display for a whole command (rich allows one live display at a time: a phase inside
    another's display reports through the same `Phases`, never opens its own)."""
    if not wanted(enabled):
        yield Phases()
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, \
        TimeElapsedColumn, TimeRemainingColumn
    from rich.text import Text

    class Count(MofNCompleteColumn):  # type: ignore[misc]
        """'3/12'; '3' when the total is unknown; nothing before the first step of such a phase."""

        def render(self, task: Any) -> Any:
            if task.total is None:
                return Text(f"{int(task.completed)}" if task.completed else "", style="progress.download")
            return super().render(task)

    columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), Count(),
               TimeElapsedColumn(), TimeRemainingColumn()]
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        yield Phases(bar)


@contextmanager
def progress(description: str, total: int | None = None, enabled: bool = True) -> Iterator[Advance]:
    """A bar counting steps toward `total` (a spinner and a count when the total is unknown)."""
    with phases(enabled) as bar:
        bar.start(description, total)
        yield bar.advance
