"""-v/--verbose and -q/--quiet, accepted before the subcommand and after it alike
(`trtdiff -v run m.onnx` and `trtdiff run m.onnx -v`), and the logging they configure.

Every command gets the two options (cli.py adds them as it hands a command out); the counts of
all occurrences add up in the root context's `meta`, so `-v ... -v` is `-vv`. Logs go to stderr:
-q errors only (and a command prints its verdict line alone), default warnings, -v info, -vv debug
with tracebacks.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import click

VERBOSE_KEY = "trtdiff.verbose"
QUIET_KEY = "trtdiff.quiet"
LEVELS = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO, 2: logging.DEBUG}
LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is when a record comes (test runners swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        """The stream is always the current sys.stderr."""


def configure_logging(verbosity: int) -> None:
    """Level of the `trtdiff` loggers for `verbosity` (-1 quiet ... 2 debug); one stderr handler."""
    logger = logging.getLogger("trtdiff")
    if not any(isinstance(h, StderrHandler) for h in logger.handlers):
        handler = StderrHandler()
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        logger.addHandler(handler)
    logger.setLevel(LEVELS[max(-1, min(verbosity, 2))])


def verbosity(ctx: click.Context | None = None) -> int:
    """-1 with -q, else the number of -v given anywhere on the command line (0 when none)."""
    ctx = ctx or click.get_current_context(silent=True)
    if ctx is None:
        return 0
    meta = ctx.find_root().meta
    return -1 if meta.get(QUIET_KEY) else int(meta.get(VERBOSE_KEY, 0))


def is_quiet(ctx: click.Context | None = None) -> bool:
    return verbosity(ctx) < 0


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    meta = ctx.find_root().meta
    if param.name == "verbose":
        meta[VERBOSE_KEY] = int(meta.get(VERBOSE_KEY, 0)) + int(value or 0)
    else:
        meta[QUIET_KEY] = bool(meta.get(QUIET_KEY)) or bool(value)
    configure_logging(verbosity(ctx))
    return value


def verbosity_options() -> list[click.Option]:
    return [
        click.Option(["-v", "--verbose"], count=True, expose_value=False, callback=_remember,
                     help="More log output on stderr (-v info, -vv debug with tracebacks)."),
        click.Option(["-q", "--quiet"], is_flag=True, expose_value=False, callback=_remember,
                     help="Print the verdict line only; log errors only."),
    ]


def add_verbosity_options(command: click.Command) -> click.Command:
    """Give `command` (and, for a group, every command under it) -v and -q, once."""
    if not any(p.name == "verbose" for p in command.params):
        command.params.extend(verbosity_options())
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            add_verbosity_options(sub)
    return command
